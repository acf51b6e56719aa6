"""The load benchmark's pure analysis: percentiles, lag growth, the sustained-N search, failover times, latencies."""
from __future__ import annotations

import math

import pytest

from benchmarks.load import analysis
from benchmarks.load.analysis import (LatencyTracker, failover_times, judge, lag_growth, parse_candidates, percentile,
                                      search, slope)


# ------------------------------------------------------------------------------------------------ percentiles

def test_percentile_matches_linear_interpolation():
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 100.0


def test_percentile_ignores_input_order_and_handles_small_inputs():
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 101)


# ------------------------------------------------------------------------------------------------ lag growth

def test_slope_of_a_line_and_of_flat_or_degenerate_input():
    assert slope([0, 1, 2, 3], [1, 3, 5, 7]) == pytest.approx(2.0)
    assert slope([0, 1, 2], [5, 5, 5]) == 0.0
    assert slope([1], [4]) == 0.0
    assert slope([2, 2], [1, 9]) == 0.0


def sawtooth(n: int, height: float, growth: float = 0.0) -> tuple[list[float], list[float]]:
    """Lag read from committed offsets every second: up and down by about a second of frames."""
    ts = [float(t) for t in range(n)]
    return ts, [(t % 3) * height / 2 + growth * t for t in ts]


def test_steady_sawtooth_lag_is_not_growing():
    ts, lags = sawtooth(60, height=50)
    growth = lag_growth(ts, lags, offered_rate=50)
    assert not growth.growing
    assert judge(growth, offered_rate=50, produced_rate=50).sustained


def test_lag_growing_by_a_few_frames_a_second_is_not_sustained():
    ts, lags = sawtooth(60, height=50, growth=5.0)
    growth = lag_growth(ts, lags, offered_rate=50)
    assert growth.slope == pytest.approx(5.0, abs=0.5)
    verdict = judge(growth, offered_rate=50, produced_rate=50)
    assert not verdict.sustained and "grows" in verdict.reason


def test_only_the_second_half_counts_a_start_up_backlog_that_drains_is_fine():
    ts = [float(t) for t in range(60)]
    lags = [max(0.0, 300 - 20 * t) for t in ts]  # a worker catching up after start, then steady
    assert judge(lag_growth(ts, lags, offered_rate=25), 25, 25).sustained


def test_a_backlog_that_stops_growing_but_never_drains_is_not_sustained():
    ts = [float(t) for t in range(60)]
    lags = [5000.0] * 60
    verdict = judge(lag_growth(ts, lags, offered_rate=25), 25, 25)
    assert not verdict.sustained and "stays" in verdict.reason


def committed_lag(sample_s: float, seconds: float, rate: float, backlog=lambda t: 0.0, commit_s: float = 1.02):
    """Lag read from offsets committed every `commit_s` (a little slower than a second, as a busy worker's timer
    is): what arrived since the last commit, plus the real backlog."""
    ts = [i * sample_s for i in range(int(seconds / sample_s))]
    return ts, [rate * (t % commit_s) + backlog(t) for t in ts]


def test_a_commit_sawtooth_sampled_off_beat_is_not_growing_but_a_real_backlog_is():
    ts, lags = committed_lag(analysis.SAMPLE_S, 60, rate=50)
    assert not lag_growth(ts, lags, offered_rate=50).growing
    ts, lags = committed_lag(analysis.SAMPLE_S, 60, rate=50, backlog=lambda t: 3.0 * t)
    growth = lag_growth(ts, lags, offered_rate=50)
    assert growth.growing and growth.slope == pytest.approx(3.0, abs=0.5)


def test_sampled_on_the_beat_the_same_sawtooth_drifts_like_a_growing_lag():
    """Why the sampling period matters: at 1.0 s against a 0.98 s commit the phase drifts 0.02 s a sample, and
    the raw series climbs a second's frames over 49 s (then drops): no window short enough to judge a step
    removes that, and its slope passes the limit with no backlog at all."""
    ts, lags = committed_lag(1.0, 60, rate=75, commit_s=0.98)
    growth = lag_growth(ts[5:45], lags[5:45], offered_rate=75)
    assert growth.slope == pytest.approx(1.5, abs=0.1) and growth.growing


def test_the_floor_is_the_least_value_in_the_trailing_window():
    ts = [0.0, 1.0, 2.0, 3.0, 4.0]
    assert analysis.floor(ts, [5, 1, 4, 3, 9], window_s=2.0) == [5, 1, 1, 1, 3]


def test_the_growth_limit_scales_with_the_offered_rate():
    small = lag_growth([0, 1], [0, 0], offered_rate=10)
    big = lag_growth([0, 1], [0, 0], offered_rate=400)
    assert small.threshold == analysis.SLOPE_ABS
    assert big.threshold == pytest.approx(analysis.SLOPE_REL * 400)


def test_a_producer_short_of_the_offered_rate_fails_the_step_whatever_the_lag():
    ts, lags = sawtooth(60, height=10)
    verdict = judge(lag_growth(ts, lags, 100), offered_rate=100, produced_rate=80)
    assert not verdict.sustained and "producer" in verdict.reason


# ------------------------------------------------------------------------------------------------ search

def test_search_stops_at_the_first_unsustained_n():
    calls = []

    def step(n: int) -> bool:
        calls.append(n)
        return n <= 3

    result = search([1, 2, 3, 4, 6, 8], step)
    assert calls == [1, 2, 3, 4]
    assert result.tried == [(1, True), (2, True), (3, True), (4, False)]
    assert result.largest_sustained == 3


def test_search_when_the_first_n_already_fails_or_every_n_passes():
    assert search([1, 2], lambda n: False).largest_sustained == 0
    every = search([1, 2, 4], lambda n: True)
    assert every.largest_sustained == 4 and len(every.tried) == 3


def test_search_needs_increasing_candidates():
    with pytest.raises(ValueError):
        search([2, 1], lambda n: True)
    assert parse_candidates("1, 2,3,4,6") == [1, 2, 3, 4, 6]
    for bad in ("", "0,1", "3,2", "1,1"):
        with pytest.raises(ValueError):
            parse_candidates(bad)


# ------------------------------------------------------------------------------------------------ failover

def test_failover_times_ownership_and_recovery():
    ts = [float(t) for t in range(40)]
    owned = [4 if t < 12 else 8 for t in ts]  # worker 2 has half until 2 s after the stop at t=10
    lags = [20.0] * 10 + [20, 150, 300, 250, 120, 40, 30, 60, 20, 20] + [20.0] * 20
    fo = failover_times(ts, owned, lags, stop_t=10.0, partitions=8, lag_limit=50, hold_s=3)
    assert fo.all_owned_after_s == 2.0
    assert fo.lag_max_after == 300
    # under 50 at t=15 but back over at t=17 (within the hold), so recovery is t=18
    assert fo.lag_recovered_after_s == 8.0


def test_failover_lag_that_never_exceeds_the_limit_recovers_at_once_and_missing_takeover_is_none():
    ts = [float(t) for t in range(20)]
    fo = failover_times(ts, [4] * 20, [10.0] * 20, stop_t=5.0, partitions=8, lag_limit=50)
    assert fo.lag_recovered_after_s == 0.0
    assert fo.all_owned_after_s is None


def test_failover_lag_that_never_comes_back_is_none():
    ts = [float(t) for t in range(20)]
    lags = [0.0] * 5 + [100.0 * i for i in range(1, 16)]
    fo = failover_times(ts, [8] * 20, lags, stop_t=5.0, partitions=8, lag_limit=50)
    assert fo.lag_recovered_after_s is None
    assert fo.all_owned_after_s == 0.0


# ------------------------------------------------------------------------------------------------ latency

def alert(**kw) -> dict:
    base = {"type": "thrown_object", "device": "cam-000", "updated_at": 100.0, "last_seen": 100.0}
    return {**base, **kw}


def test_latency_is_record_time_minus_the_capture_time_of_the_completing_frame():
    tracker = LatencyTracker()
    assert tracker.observe(alert(), record_ts=100.25) == pytest.approx(0.25)


def test_latency_counts_each_detection_once_and_skips_other_records():
    tracker = LatencyTracker()
    assert tracker.observe(alert(), 100.2) is not None
    assert tracker.observe(alert(status="acknowledged"), 130.0) is None  # same detection, re-published
    assert tracker.observe(alert(updated_at=400.0), 400.1) is None  # an escalation moves updated_at only
    assert tracker.observe(alert(type="smoke_alarm", updated_at=5.0, last_seen=5.0), 5.1) is None
    # a repeat grouped under the same alert id: a new last_seen is a new detection
    assert tracker.observe(alert(updated_at=113.3, last_seen=113.3), 113.5) == pytest.approx(0.2)
    # the same time on another camera is another detection
    assert tracker.observe(alert(device="cam-001"), 100.4) == pytest.approx(0.4)


def test_rate_mean_and_peak_helpers():
    assert analysis.rate([0, 10], [0, 250]) == 25.0
    assert analysis.rate([5], [1]) == 0.0
    assert analysis.mean([1.0, math.nan, 3.0]) == 2.0
    assert analysis.peak([1.0, math.nan, 3.0]) == 3.0
    assert math.isnan(analysis.mean([]))


def test_cpu_ms_per_frame_integrates_cpu_over_the_frames_counted():
    ts = [0.0, 1.0, 2.0, 3.0]
    cpu = [math.nan, 50.0, 50.0, 50.0]  # half a core for three seconds = 1.5 core-seconds
    frames = [0.0, 25.0, 50.0, 75.0]
    assert analysis.cpu_ms_per_item(ts, cpu, frames) == pytest.approx(1500.0 / 75)
    # an interval whose counter is unknown (worker not publishing yet) counts neither its CPU nor its frames
    assert analysis.cpu_ms_per_item(ts, cpu, [math.nan, 0.0, 25.0, 50.0]) == pytest.approx(1000.0 / 50)
    assert math.isnan(analysis.cpu_ms_per_item(ts, cpu, [0.0] * 4))
    assert analysis.cameras_if_alone(2, 25.0, 40.0) == pytest.approx(2.0)
    assert math.isnan(analysis.cameras_if_alone(2, 25.0, math.nan))


def test_a_draining_backlog_of_seconds_of_frames_is_not_sustained():
    """N=4 on 2026-12-01: the lag fell slowly but 317 frames (3.2 s at 100 frames/s) still waited at the end."""
    ts = [i * 0.7 for i in range(86)]
    lags = [554 - 3.0 * t for t in ts]
    verdict = judge(lag_growth(ts, lags, offered_rate=100), 100, 100)
    assert not verdict.sustained and "stays" in verdict.reason

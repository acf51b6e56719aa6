"""Delivery over HTTP against the speaker simulator: success, retries with backoff, giving up."""
import io
import wave

import httpx
import numpy as np
import pytest

from pipeline.broadcast.delivery import deliver, headers_for, track_delivery
from pipeline.broadcast.policy import Play
from pipeline.broadcast.simulator import serve_in_thread
from pipeline.config import Site

SITE = Site.model_validate({
    "site": {"id": "s1"}, "zones": [{"id": "z1"}],
    "speakers": [{"id": "spk-1", "zone": "z1", "endpoint": "http://127.0.0.1:9/speakers/spk-1"}],
})
SPK = SITE.speakers[0]


def tone(seconds=1.0, rate=22050):
    t = np.arange(int(seconds * rate)) / rate
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes())
    return out.getvalue()


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    running = serve_in_thread(0, store_dir=tmp_path_factory.mktemp("speakers"))
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def reset(sim):
    httpx.post(f"{sim.url}/control/reset")


PLAY = Play("cmd-1", "spk-1", "fire_lane", 40, 1, (("消防通道", "cmn"),), preempt=True)


def test_success_is_stored_with_headers(sim):
    sleeps = []
    result = deliver(f"{sim.url}/speakers/spk-1", tone(1.0), headers_for(PLAY), 5, 1.0, sleep=sleeps.append)
    assert result.ok and result.attempts == 1 and sleeps == []
    [rec] = httpx.get(f"{sim.url}/speakers/spk-1/received").json()
    assert rec["command_id"] == "cmd-1" and rec["priority"] == "fire_lane" and rec["volume"] == 40
    assert rec["preempt"] is True and rec["duration_s"] == pytest.approx(1.0, abs=0.01)
    with open(rec["file"], "rb") as f:
        assert f.read() == tone(1.0)


def test_retries_with_doubling_backoff_then_succeeds(sim):
    httpx.post(f"{sim.url}/control/fail", params={"speaker": "spk-1", "count": 3})
    sleeps = []
    result = deliver(f"{sim.url}/speakers/spk-1", tone(0.6), headers_for(PLAY), 5, 1.0, sleep=sleeps.append)
    assert result.ok and result.attempts == 4 and sleeps == [1.0, 2.0, 4.0]
    assert len(httpx.get(f"{sim.url}/speakers/spk-1/received").json()) == 1


def test_gives_up_after_max_attempts(sim):
    httpx.post(f"{sim.url}/control/fail", params={"speaker": "spk-1", "count": 10})
    sleeps = []
    result = deliver(f"{sim.url}/speakers/spk-1", tone(0.6), headers_for(PLAY), 5, 1.0, sleep=sleeps.append)
    assert not result.ok and result.attempts == 5 and "503" in result.error and sleeps == [1, 2, 4, 8]
    assert httpx.get(f"{sim.url}/speakers/spk-1/received").json() == []


def test_unreachable_endpoint_is_retried_then_fails():
    sleeps = []
    result = deliver("http://127.0.0.1:9/speakers/x", tone(0.6), {}, 3, 0.5, sleep=sleeps.append, timeout_s=1.0)
    assert not result.ok and result.attempts == 3 and sleeps == [0.5, 1.0] and "ConnectError" in result.error


def test_client_error_is_not_retried(sim):
    sleeps = []
    result = deliver(f"{sim.url}/speakers/spk-1", b"not a wav", {"X-Command-Id": "c"}, 5, 1.0, sleep=sleeps.append)
    assert not result.ok and result.attempts == 1 and result.status_code == 400 and sleeps == []


def test_tracker_raises_after_n_failures_and_resolves_on_success():
    link, alerts = None, []
    for i in range(5):
        link, new = track_delivery(link, SPK, SITE, False, 1_800_000_000.0 + i, 3)
        alerts += new
        assert len(alerts) == (1 if i >= 2 else 0)
    [alert] = alerts
    assert alert.type == "speaker_unreachable" and alert.severity.value == "high"
    assert alert.started_at == 1_800_000_000.0 and alert.details["consecutive_failures"] == 3
    # the id depends only on speaker + first failure: a replay computes the same one
    _, again = track_delivery({"failures": 2, "first_failure_at": 1_800_000_000.0, "alert": None}, SPK, SITE,
                              False, 1_800_000_009.0, 3)
    assert again[0].id == alert.id
    link, [resolved] = track_delivery(link, SPK, SITE, True, 1_800_000_100.0, 3)
    assert link is None and resolved.id == alert.id and resolved.status.value == "resolved"
    assert track_delivery(None, SPK, SITE, True, 1_800_000_200.0, 3) == (None, [])


def test_one_success_resets_the_count():
    link, _ = track_delivery(None, SPK, SITE, False, 1_800_000_000.0, 3)
    link, _ = track_delivery(link, SPK, SITE, False, 1_800_000_001.0, 3)
    link, _ = track_delivery(link, SPK, SITE, True, 1_800_000_002.0, 3)
    link, alerts = track_delivery(link, SPK, SITE, False, 1_800_000_003.0, 3)
    assert alerts == [] and link["failures"] == 1


@pytest.mark.skipif(__import__("shutil").which("espeak-ng") is None, reason="espeak-ng not installed")
def test_end_to_end_policy_tts_delivery(sim, tmp_path):
    """What the agent does: on_command -> render each Play -> deliver -> on_delivery."""
    from pipeline.broadcast.policy import BroadcastConfig, on_command, on_delivery
    from pipeline.broadcast.tts import TTS, render_play
    from pipeline.messages import BroadcastCommand

    spk = SPK.model_copy(update={"endpoint": f"{sim.url}/speakers/spk-1"})
    cfg, tts, now = BroadcastConfig(), TTS(tmp_path), 1_800_000_000.0  # 2027-01-15 16:00 Asia/Shanghai
    command = BroadcastCommand(id="e2e-1", speaker="spk-1", priority="fire_lane", text_zh="消防通道禁止停车",
                               text_en="No parking in the fire lane", issued_at=now)
    decision = on_command(None, command, now, spk, SITE, cfg)
    [play] = [a for a in decision.actions if isinstance(a, Play)]
    result = deliver(spk.endpoint, render_play(play, tts), headers_for(play), cfg.max_attempts, cfg.backoff_s)
    after = on_delivery(decision.state, play, result.ok, now + 1, spk, SITE, cfg, result.error)
    assert result.ok and after.acks[0].status == "delivered"
    [rec] = httpx.get(f"{sim.url}/speakers/spk-1/received").json()
    assert rec["command_id"] == "e2e-1" and rec["volume"] == cfg.normal_volume and rec["duration_s"] > 1.5
    assert rec["rms"] > 0.01
    assert on_command(after.state, command, now + 5, spk, SITE, cfg).acks[0].status == "duplicate"

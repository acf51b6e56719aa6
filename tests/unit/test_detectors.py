"""The pure logic behind the two detectors this backbone ships: device offline and sensor alarm flag."""
from pipeline.detectors import alarm_flag, liveness
from pipeline.messages import SensorReading


def reading(ts, alarm, device="smoke-t1"):
    return SensorReading(device=device, type="smoke", ts=ts, values={"o": 1.0}, alarm=alarm)


def test_alarm_opens_one_alert_per_episode_and_resolves_it(site):
    sensor = site.sensor("smoke-t1")
    first = alarm_flag.on_reading(site, sensor, reading(1.7e9, True), None)
    assert first.changed and len(first.alerts) == 1
    opened = first.alerts[0]
    assert opened.status.value == "open" and opened.severity.value == "high"
    again = alarm_flag.on_reading(site, sensor, reading(1.7e9, True), first.episode)  # redelivered
    later = alarm_flag.on_reading(site, sensor, reading(1.7e9 + 5, True), first.episode)
    assert again.alerts == [] and later.alerts == [] and not later.changed
    cleared = alarm_flag.on_reading(site, sensor, reading(1.7e9 + 9, False), first.episode)
    assert cleared.episode is None
    (resolved,) = cleared.alerts
    assert resolved.id == opened.id and resolved.status.value == "resolved" and resolved.ended_at == 1.7e9 + 9
    assert resolved.details == opened.details


def test_same_first_alarm_always_gives_the_same_id(site):
    sensor = site.sensor("smoke-t1")
    a = alarm_flag.on_reading(site, sensor, reading(1.7e9, True), None).alerts[0]
    b = alarm_flag.on_reading(site, sensor, reading(1.7e9, True), None).alerts[0]
    c = alarm_flag.on_reading(site, sensor, reading(1.7e9 + 1, True), None).alerts[0]
    assert a.id == b.id != c.id


def test_readings_without_flag_or_older_than_episode_change_nothing(site):
    sensor = site.sensor("smoke-t1")
    episode = {"started_ts": 1.7e9, "values": {}}
    assert alarm_flag.on_reading(site, sensor, reading(1.7e9 + 1, None), episode).alerts == []
    late = alarm_flag.on_reading(site, sensor, reading(1.7e9 - 10, False), episode)
    assert late.alerts == [] and late.episode == episode
    assert alarm_flag.on_reading(site, sensor, reading(1.7e9, False), None).alerts == []


def test_stale_devices_and_never_seen_ones():
    beats = [("a", 100.0), ("b", 108.0), ("c", None)]
    five = lambda _device: 5.0  # noqa: E731
    assert list(liveness.stale(beats, now=110.0, timeout_for=five, worker_started=90.0)) == [("a", 100.0), ("c", None)]
    assert list(liveness.stale(beats, now=110.0, timeout_for=five, worker_started=107.0)) == [("a", 100.0)]
    per_device = {"a": 20.0, "b": 1.0, "c": 5.0}.__getitem__
    assert list(liveness.stale(beats, now=110.0, timeout_for=per_device, worker_started=107.0)) == [("b", 108.0)]


def test_sensor_offline_after_three_reporting_intervals_unless_overridden(site, tmp_path):
    from pipeline.config import load_site

    assert site.offline_timeout_s("sensor", "smoke-t1") == 3600  # the test site sets sensor_timeout_s
    assert site.offline_timeout_s("camera", "cam-t1") == 3
    text = (tmp_path / "s.yaml")
    text.write_text("site: {id: s}\nsensors:\n  - {id: h1, type: heat, report_interval_s: 20}\n")
    plain = load_site(text)
    assert plain.offline_timeout_s("sensor", "h1") == 60


def test_offline_alert_and_its_resolution_share_an_id(site):
    raised = liveness.offline_alert(site, "camera", "cam-t1", 1.7e9 + 100, 3.0, worker_started=1.7e9 + 50)
    assert raised.type == "device_offline" and raised.started_at == 1.7e9 + 103 and raised.location == "test gate"
    assert liveness.came_back(1.7e9 + 100, now=1.7e9 + 120, timeout_s=3.0, worker_started=1.7e9 + 50)
    assert not liveness.came_back(1.7e9 + 100, now=1.7e9 + 102, timeout_s=3.0, worker_started=1.7e9 + 50)
    back = liveness.back_online(site, "camera", "cam-t1", 1.7e9 + 100, 3.0, 1.7e9 + 50, now=1.7e9 + 120)
    assert back.id == raised.id and back.status.value == "resolved" and back.ended_at == 1.7e9 + 120
    other = liveness.offline_alert(site, "camera", "cam-t1", 1.7e9 + 101, 3.0, worker_started=1.7e9 + 50)
    assert other.id != raised.id


def test_heartbeat_writes_are_coarse_but_bounded():
    assert liveness.needs_write(None, 10.0, 30.0)
    assert not liveness.needs_write(10.0, 10.5, 30.0)
    assert liveness.needs_write(10.0, 11.0, 30.0)
    assert liveness.needs_write(10.0, 10.3, 3.0)  # short timeouts get finer heartbeats

import pytest

from pipeline.infra.kafka_broker import require_tools
from pipeline.infra.process import InfraError
from pipeline.infra.redis_server import RedisServer
from pipeline.ingest.camera import ingest_camera
from pipeline.ingest.producer import IngestError
from pipeline.ingest.sensors import Mapping, load_readings
from pipeline.settings import load_settings

SMOKE = Mapping(device="smoke-t1", type="smoke", alarm_column="Fire Alarm")


class RecordingProducer:
    def __init__(self):
        self.sent = []

    def send(self, *args, **kwargs):
        self.sent.append((args, kwargs))
        raise AssertionError("nothing may be sent for unreadable input")

    def flush(self):
        pass


def test_smoke_dataset_maps_onto_readings_with_the_recorded_alarm(data_dir):
    path = data_dir / "sensors" / "smoke_detection_iot.csv"
    readings = load_readings(path, Mapping(**{**SMOKE.__dict__, "skip": 3170, "limit": 20}), now=1.7e9)
    assert len(readings) == 20
    flags = [r.alarm for r in readings]
    assert flags.index(True) == 8  # data row 3178 is the first with Fire Alarm = 1
    assert all(flags[8:])
    assert set(readings[0].values) == {"Temperature[C]", "Humidity[%]", "eCO2[ppm]"}
    assert readings[-1].ts == pytest.approx(1.7e9) and readings[1].ts - readings[0].ts == pytest.approx(1.0)


def test_bad_row_refuses_the_whole_file_with_its_line(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("device,type,ts,temp\nheat-t1,heat,1800000000,20\nheat-t1,heat,1800000001,nan\n"
                    "heat-t1,toaster,1800000002,22\n")
    with pytest.raises(IngestError) as err:
        load_readings(path)
    assert "nothing sent" in str(err.value)
    assert f"{path}:3: a value is NaN" in str(err.value)
    assert f"{path}:4: type" in str(err.value)


def test_file_without_device_column_says_which_options_are_missing(data_dir):
    with pytest.raises(IngestError, match="needs --device and --type"):
        load_readings(data_dir / "sensors" / "smoke_detection_iot.csv", Mapping(limit=3))


def test_jsonl_with_iso_times_and_defaults(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"ts": "2026-11-24T08:00:00Z", "values": {"t": 21}, "alarm": false}\n\n'
                    '{"device": "heat-t1", "type": "heat", "ts": 1795996800.5}\n')
    first, second = load_readings(path, Mapping(device="smoke-t1", type="smoke"))
    assert first.device == "smoke-t1" and first.ts == 1795507200.0 and first.values == {"t": 21.0}
    assert second.device == "heat-t1" and second.type.value == "heat"


def test_bad_jsonl_line_and_missing_file(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"device": "d", "type": "heat", "ts": 1800000000}\n{oops\n')
    with pytest.raises(IngestError, match=r"r.jsonl:2: not JSON"):
        load_readings(path)
    with pytest.raises(IngestError, match="no such file"):
        load_readings(tmp_path / "absent.csv")


def test_unreadable_video_is_refused_before_sending(tmp_path):
    fake = tmp_path / "clip.mp4"
    fake.write_bytes(b"this is not a video" * 100)
    producer = RecordingProducer()
    with pytest.raises(IngestError, match="cannot open video source|no frame could be decoded"):
        ingest_camera(load_settings(), "cam-t1", str(fake), producer=producer, show_progress=False)
    assert producer.sent == []


def test_missing_tools_say_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr("shutil.which", lambda name: None)
    with pytest.raises(InfraError, match="java — install a Java 17"):
        require_tools("java")
    monkeypatch.setenv("SCA_RUN_DIR", str(tmp_path))
    monkeypatch.setenv("SCA_REDIS_PORT", "1")
    with pytest.raises(InfraError, match="apt-get install redis-server"):
        RedisServer(load_settings()).up()

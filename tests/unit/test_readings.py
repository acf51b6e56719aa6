import orjson
import pytest

from pipeline.deadletters import BadMessage
from pipeline.readings import parse_reading


def good(**over):
    doc = {"device": "smoke-t1", "type": "smoke", "ts": 1.7e9, "values": {"obscuration": 0.4}, "alarm": True}
    doc.update(over)
    return orjson.dumps(doc)


def test_good_reading(site):
    reading, sensor = parse_reading(site, good())
    assert reading.alarm is True and sensor.location == "B1 3F"


@pytest.mark.parametrize("payload,reason", [
    (b"{not json", "bad_json"),
    (b"\xff\xfe\x00", "bad_json"),
    (b'{"device": "smoke-t1", "type": "smoke", "ts": NaN}', "bad_json"),
    (good(ts="soon"), "schema_violation"),
    (good(values={"t": "hot"}), "schema_violation"),
    (good(extra=1), "schema_violation"),
    (good(ts=-5), "schema_violation"),
    (good(device="smoke-zz"), "unknown_device"),
    (good(type="heat"), "schema_violation"),
])
def test_bad_readings_name_their_reason(site, payload, reason):
    with pytest.raises(BadMessage) as err:
        parse_reading(site, payload)
    assert err.value.reason == reason


def test_schema_violation_names_the_field(site):
    with pytest.raises(BadMessage, match=r"values\.t"):
        parse_reading(site, good(values={"t": "hot"}))

"""`sca ingest sensors`: replay readings from CSV or JSONL onto the readings topic.

The whole file is parsed and validated before the first message is sent, so a bad row
refuses the file (with its line number) instead of leaving half of it on the topic.
CSV files from data sets rarely carry a device id or a clock: `--device`, `--type`,
`--time-column`, `--alarm-column` and `--interval-s` map such a file onto readings.
"""
from __future__ import annotations

import csv
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson
from pydantic import ValidationError
from tqdm import tqdm

from pipeline.contracts import topic
from pipeline.ingest.producer import DeliveryCount, IngestError, make_producer
from pipeline.messages import SensorReading
from pipeline.settings import Settings

TRUE = {"1", "true", "yes", "on", "alarm", "1.0"}
FALSE = {"0", "false", "no", "off", "", "0.0"}
RESERVED = {"device", "type", "ts", "battery", "alarm"}


@dataclass(frozen=True)
class Mapping:
    device: str | None = None
    type: str | None = None
    time_column: str | None = None
    alarm_column: str | None = None
    interval_s: float = 1.0
    start: float | None = None  # capture time of row 0; default: the last selected row is "now"
    skip: int = 0
    limit: int | None = None


def _parse_time(text: str, where: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise IngestError(f"{where}: time {text!r} is neither Unix seconds nor ISO 8601") from None


def _parse_flag(text: str, where: str) -> bool:
    value = text.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise IngestError(f"{where}: alarm value {text!r} is not 0/1/true/false")


def _csv_rows(path: Path, m: Mapping) -> Iterable[tuple[int, int, dict]]:
    with path.open(newline="", encoding="utf-8") as handle:
        sample = handle.read(4096)
        handle.seek(0)
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        reader = csv.DictReader(handle, dialect=dialect)
        for index, row in enumerate(reader):
            yield index, reader.line_num, row


def _csv_reading(index: int, row: dict, m: Mapping, where: str) -> dict:
    row = {(k or "").strip(): (v or "").strip() for k, v in row.items() if k is not None}
    reading: dict = {"device": row.get("device") or m.device, "type": row.get("type") or m.type, "values": {}}
    if m.time_column:
        if m.time_column not in row:
            raise IngestError(f"{where}: no column {m.time_column!r}")
        reading["ts"] = _parse_time(row[m.time_column], where)
    elif row.get("ts"):
        reading["ts"] = _parse_time(row["ts"], where)
    else:
        reading["row"] = index
    if m.alarm_column:
        if m.alarm_column not in row:
            raise IngestError(f"{where}: no column {m.alarm_column!r}")
        reading["alarm"] = _parse_flag(row[m.alarm_column], where)
    elif row.get("alarm"):
        reading["alarm"] = _parse_flag(row["alarm"], where)
    if row.get("battery"):
        reading["battery"] = float(row["battery"])
    skip = RESERVED | {m.time_column, m.alarm_column, ""}
    for name, text in row.items():
        if name in skip or text == "":
            continue
        try:
            number = float(text)
        except ValueError:
            continue  # text columns (labels, notes) are not readings
        reading["values"][name] = number
    return reading


def _jsonl_rows(path: Path) -> Iterable[tuple[int, int, dict]]:
    with path.open("rb") as handle:
        index = 0
        for line_no, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise IngestError(f"{path}:{line_no}: not JSON: {exc}") from None
            if not isinstance(obj, dict):
                raise IngestError(f"{path}:{line_no}: expected a JSON object")
            yield index, line_no, obj
            index += 1


def load_readings(path: str | Path, mapping: Mapping = Mapping(), now: float | None = None) -> list[SensorReading]:
    """Parse and validate every selected row; raise IngestError naming the first bad lines."""
    path = Path(path)
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    is_jsonl = path.suffix.lower() in {".jsonl", ".ndjson", ".json"}
    rows = _jsonl_rows(path) if is_jsonl else _csv_rows(path, mapping)
    drafts: list[tuple[int, dict]] = []
    for index, line_no, row in rows:
        if index < mapping.skip:
            continue
        if mapping.limit is not None and len(drafts) >= mapping.limit:
            break
        where = f"{path}:{line_no}"
        if is_jsonl:
            draft = {"device": mapping.device, "type": mapping.type, **row}
            if mapping.time_column and mapping.time_column in draft:
                draft["ts"] = draft.pop(mapping.time_column)
            if isinstance(draft.get("ts"), str):
                draft["ts"] = _parse_time(draft["ts"], where)
            elif "ts" not in draft:
                draft["row"] = index
        else:
            draft = _csv_reading(index, row, mapping, where)
        drafts.append((line_no, draft))
    if not drafts:
        raise IngestError(f"{path}: no readings selected (file empty, or --skip past its end)")
    rows_with_index = [d["row"] for _, d in drafts if "row" in d]
    start = mapping.start
    if start is None and rows_with_index:
        start = (now or time.time()) - max(rows_with_index) * mapping.interval_s
    readings, problems = [], []
    for line_no, draft in drafts:
        if "row" in draft:
            draft["ts"] = start + draft.pop("row") * mapping.interval_s
        values = draft.get("values") or {}
        if any(isinstance(v, float) and not math.isfinite(v) for v in values.values()):
            problems.append(f"{path}:{line_no}: a value is NaN or infinite")
            continue
        try:
            readings.append(SensorReading.model_validate(draft))
        except ValidationError as exc:
            detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
            problems.append(f"{path}:{line_no}: {detail}")
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        hint = "" if mapping.device else " — a file without device/type columns needs --device and --type"
        raise IngestError("refused, nothing sent:\n" + "\n".join(problems[:10]) + more + hint)
    return readings


def send_readings(settings: Settings, readings: list[SensorReading], *, speed: float = 0.0,
                  show_progress: bool = True, producer=None) -> DeliveryCount:
    """Publish in file order; with speed > 0 keep the readings' own spacing divided by `speed`."""
    name = topic("readings").name
    own = producer is None
    producer = producer or make_producer(settings)
    delivery = DeliveryCount()
    t0_wall, t0_data = time.monotonic(), readings[0].ts
    try:
        for reading in tqdm(readings, unit="reading", desc="sensors", disable=not show_progress, dynamic_ncols=True):
            if speed > 0:
                delay = t0_wall + (reading.ts - t0_data) / speed - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            value = orjson.dumps(reading.model_dump(mode="json", exclude_none=True))
            delivery.track(producer.send(name, key=reading.device.encode(), value=value))
        producer.flush()
    finally:
        if own:
            producer.close()
    if delivery.failed:
        raise IngestError(f"{delivery.failed} of {len(readings)} readings were not acknowledged: {delivery.errors}")
    return delivery

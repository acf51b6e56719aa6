"""`sca analyze sensors READINGS --rules RULES.yaml --out ALERTS.jsonl`: the sensor rules over a recorded file.

Runs the very `evaluate` / `tick` / `confirm` functions the worker runs (through
`pipeline.sensors.replay`), in time order, and writes one JSON line per alert with its
final state: id, type, device, location, severity, status, t_start, t_end, details.
Devices absent from the site (or no --site at all) are added ad hoc from --device/--type
or from the file's own device/type columns, so a data-set CSV can be analysed as is.
"""
from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click
import orjson

from pipeline.config import SensorConfig, Site, SiteInfo, load_site
from pipeline.ingest.sensors import Mapping, load_readings
from pipeline.messages import Alert, SensorReading
from pipeline.sensors.replay import replay
from pipeline.sensors.rules_config import load_rules

DEFAULT_START = "2024-01-01T00:00:00+00:00"


def with_devices(site: Site | None, readings: list[SensorReading]) -> Site:
    """The site, plus a plain SensorConfig for every device of the file it does not know."""
    base = site or Site(site=SiteInfo(id="offline"))
    known = {s.id for s in base.sensors}
    extra: dict[str, SensorConfig] = {}
    for r in readings:
        if r.device not in known and r.device not in extra:
            extra[r.device] = SensorConfig(id=r.device, type=r.type, location=r.device, report_interval_s=1)
    if not extra:
        return base
    fields = {name: getattr(base, name) for name in Site.model_fields}
    return Site.model_validate({**fields, "sensors": [*base.sensors, *extra.values()]})


def alert_line(alert: Alert) -> bytes:
    return orjson.dumps({
        "id": alert.id, "type": alert.type, "device": alert.device, "location": alert.location,
        "severity": alert.severity.value, "status": alert.status.value,
        "t_start": alert.started_at, "t_opened": alert.updated_at if alert.ended_at is None else None,
        "t_end": alert.ended_at, "details": alert.details,
    })


@click.command("sensors")
@click.argument("readings", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rules", "rules_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="RULES.yaml (default: built-in defaults)")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="alerts as JSON lines")
@click.option("--site", "site_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="site.yaml naming the devices (locations, buildings, speakers)")
@click.option("--device", help="device id for a file without a device column")
@click.option("--type", "sensor_type", help="sensor type for a file without a type column")
@click.option("--time-column", help="column with Unix seconds or ISO 8601 times")
@click.option("--alarm-column", help="column with the device's alarm flag (0/1)")
@click.option("--interval-s", type=float, default=1.0, show_default=True, help="row spacing without a time column")
@click.option("--start", default=DEFAULT_START, show_default=True,
              help="time of row 0 without a time column (ISO 8601 or Unix seconds)")
@click.option("--tick-s", type=float, default=5.0, show_default=True, help="clock ticks of data time")
def sensors_command(readings: Path, rules_path: Path | None, out_path: Path, site_path: Path | None,
                    device: str | None, sensor_type: str | None, time_column: str | None,
                    alarm_column: str | None, interval_s: float, start: str, tick_s: float) -> None:
    """Run the sensor rules over READINGS (CSV or JSONL) and write the alerts to --out."""
    from pipeline.ingest.producer import IngestError
    from pipeline.sensors.rules_config import RulesConfigError
    from pipeline.config import SiteConfigError

    try:
        cfg = load_rules(rules_path)
        site = load_site(site_path) if site_path else None
        mapping = Mapping(device=device, type=sensor_type, time_column=time_column, alarm_column=alarm_column,
                          interval_s=interval_s, start=_parse_start(start))
        click.echo(f"reading {readings} ...", err=True)
        rows = sorted(load_readings(readings, mapping), key=lambda r: r.ts)
    except (IngestError, RulesConfigError, SiteConfigError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    site = with_devices(site, rows)
    click.echo(f"{len(rows)} readings from {len({r.device for r in rows})} device(s)", err=True)
    result = replay(rows, site, cfg, tick_s=tick_s, progress=lambda n: click.echo(f"  {n} readings", err=True))
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("wb") as handle:
        for alert in result.alerts.values():
            handle.write(alert_line(alert) + b"\n")
    counts: dict[str, int] = {}
    for alert in result.alerts.values():
        counts[alert.type] = counts.get(alert.type, 0) + 1
    summary = ", ".join(f"{n} {t}" for t, n in sorted(counts.items())) or "no alerts"
    click.echo(f"{result.readings} readings -> {summary}; {len(result.broadcasts)} broadcast(s); wrote {out_path}",
               err=True)


def _parse_start(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

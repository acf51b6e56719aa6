"""Device health for the control room: what each camera and sensor last sent, as the worker saw it.

The worker keeps the latest per device in memory (a dict update per message: nothing on the hot path
touches Redis) and writes the ones that changed to one Redis hash once a second. The API adds the
site's static facts (location, role) and the online/offline verdict with the site's own timeouts.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import orjson

DEVICES = "sca:devices"
FPS_SMOOTHING = 0.1
RECENT_READINGS = 500  # per sensor, for the chart beside an alert


def readings_key(device: str) -> str:
    return f"sca:readings:{device}"


@dataclass
class DeviceBoard:
    latest: dict[str, dict] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    series: dict[str, list[bytes]] = field(default_factory=dict)

    def frame(self, camera: str, captured_at: float, seq: int, received_at: float) -> None:
        entry = self.latest.setdefault(camera, {"kind": "camera", "fps": 0.0})
        previous = entry.get("last_frame_at")
        if previous is not None and captured_at > previous:
            instant = 1.0 / (captured_at - previous)
            entry["fps"] = instant if not entry["fps"] else entry["fps"] + FPS_SMOOTHING * (instant - entry["fps"])
        entry.update(last_frame_at=captured_at, seq=seq, lag_s=max(0.0, received_at - captured_at),
                     seen_at=received_at)
        self.dirty.add(camera)

    def reading(self, device: str, ts: float, values: dict[str, float], battery: float | None,
                received_at: float) -> None:
        entry = self.latest.setdefault(device, {"kind": "sensor"})
        entry.update(last_reading_at=ts, values=values, seen_at=received_at)
        if battery is not None:
            entry["battery"] = battery
        self.dirty.add(device)
        self.series.setdefault(device, []).append(orjson.dumps({"ts": ts, "values": values}))

    def drain(self) -> tuple[dict[str, bytes], dict[str, list[bytes]]]:
        """The changed entries (encoded) and the readings since the last drain; forget both."""
        out = {device: orjson.dumps(self.latest[device]) for device in self.dirty}
        series, self.series = self.series, {}
        self.dirty.clear()
        return out, series


async def publish(board: DeviceBoard, client) -> None:
    changed, series = board.drain()
    if not changed:
        return
    pipe = client.pipeline(transaction=False)
    pipe.hset(DEVICES, mapping=changed)
    for device, items in series.items():
        pipe.rpush(readings_key(device), *items[-RECENT_READINGS:])
        pipe.ltrim(readings_key(device), -RECENT_READINGS, -1)
    await pipe.execute()


def readings_around(client, device: str, start: float, end: float) -> list[dict]:
    """The sensor's readings with start <= ts <= end, oldest first (from the worker's recent window)."""
    items = (orjson.loads(raw) for raw in client.lrange(readings_key(device), 0, -1))
    return sorted((r for r in items if start <= r["ts"] <= end), key=lambda r: r["ts"])


def device_health(site, raw: dict[bytes, bytes], now: float | None = None) -> dict:
    """The site's cameras and sensors with what the workers last saw of them."""
    now = time.time() if now is None else now
    seen = {k.decode(): orjson.loads(v) for k, v in raw.items()}

    def status(kind: str, device: str) -> str:
        entry = seen.get(device)
        if entry is None:
            return "unknown"
        return "online" if now - entry["seen_at"] <= site.offline_timeout_s(kind, device) else "offline"

    cameras = [{"id": c.id, "location": c.location, "role": c.role, "last_frame_at": None, "fps": None,
                "lag_s": None, **_pick(seen.get(c.id), "last_frame_at", "fps", "lag_s"),
                "status": status("camera", c.id)} for c in site.cameras]
    sensors = [{"id": s.id, "type": s.type.value, "location": s.location, "last_reading_at": None, "values": {},
                "battery": None, **_pick(seen.get(s.id), "last_reading_at", "values", "battery"),
                "status": status("sensor", s.id)} for s in site.sensors]
    return {"cameras": cameras, "sensors": sensors, "at": now}


def _pick(entry: dict | None, *names: str) -> dict:
    return {n: entry[n] for n in names if entry and n in entry}

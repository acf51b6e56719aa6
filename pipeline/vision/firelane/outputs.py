"""What a zone's transitions mean for the rest of the pipeline: one Alert snapshot and the voice commands.

Ids are deterministic (zone + when the episode began, + broadcast number), so a frame processed twice
after a worker restart republishes the same alert and the same command, which the alert store and the
speaker gateway drop as duplicates.
"""
from __future__ import annotations

from pipeline.alerts.record import alert_id
from pipeline.config import ZoneConfig
from pipeline.messages import Alert, AlertStatus, BroadcastCommand, BroadcastPriority, Severity
from pipeline.vision.firelane.dwell import Transition

ALERT_TYPE = "fire_lane_occupied"
TEXT_ZH = "消防通道禁止停车，请立即驶离"
TEXT_EN = "No parking in the fire lane. Please move your vehicle away immediately."


def episode_alert_id(zone_id: str, start: float) -> str:
    return alert_id(ALERT_TYPE, zone_id, f"{start:.3f}")


def alert_for(site_id: str, zone: ZoneConfig, camera: str, episode: dict, ts: float) -> Alert:
    """The alert's state after this episode's latest transition (the alerts topic is compacted by id)."""
    escalated = episode["escalated_at"] is not None
    ended = episode.get("end")
    first = episode["objects"][0] if episode["objects"] else {}
    return Alert(
        id=episode_alert_id(zone.id, episode["start"]),
        type=ALERT_TYPE,
        severity=Severity.critical if escalated else Severity.high,
        site=site_id,
        location=zone.id,
        device=camera,
        status=AlertStatus.resolved if ended is not None else AlertStatus.open,
        started_at=episode["start"],
        updated_at=ts,
        ended_at=ended,
        title=f"fire lane {zone.id} occupied by a {first.get('class', 'vehicle')}",
        details={"zone": zone.id, "camera": camera, "objects": episode["objects"],
                 "broadcasts": len(episode["broadcasts"]), "broadcast_times": episode["broadcasts"],
                 "escalated": escalated, "escalated_at": episode["escalated_at"],
                 "guard_dispatch": "requested" if escalated else "not_requested",
                 "grace_s": zone.grace_s, "polygon": zone.polygon},
    )


def broadcast_for(zone: ZoneConfig, episode: dict, number: int, ts: float) -> BroadcastCommand | None:
    """Voice warning number `number` (1-based) on the zone's speaker; None when the zone has no speaker."""
    if zone.speaker is None:
        return None
    parent = episode_alert_id(zone.id, episode["start"])
    return BroadcastCommand(id=alert_id("broadcast", parent, number), speaker=zone.speaker, zone=zone.id,
                            priority=BroadcastPriority.fire_lane, text_zh=TEXT_ZH, text_en=TEXT_EN,
                            issued_at=ts, alert_id=parent)


def messages(site_id: str, zone: ZoneConfig, camera: str, transitions: list[Transition]) -> list:
    """One alert snapshot per step (its latest state), then a voice command for each broadcast transition."""
    if not transitions:
        return []
    last = transitions[-1]
    out: list = [alert_for(site_id, zone, camera, last.episode, last.ts)]
    for t in transitions:
        if t.kind == "broadcast":
            command = broadcast_for(zone, t.episode, len(t.episode["broadcasts"]), t.ts)
            if command is not None:
                out.append(command)
    return out

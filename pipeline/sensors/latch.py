"""The debounce latch every sensor rule shares: pending -> open -> clearing -> resolved.

Why one primitive: debounce (hold `confirm_s` before opening), hysteresis (the rule decides
`active` with a lower bar while the latch is open) and resolve-after-`clear_s` are the same
for a gas detector and a manhole cover; getting them right once is what keeps a sensor
hovering at its threshold from opening an alert a second.

A latch is a plain JSON dict, so it lives in the device's changelog-backed table entry:
    since       when the condition became true (the alert's start and id come from it)
    off_since   when it stopped being true while open (the clear timer)
    open        whether the alert is open
    opened_at   when it opened
    active      the last verdict, held until the next reading (sample-and-hold for ticks)
    details     what the alert says, kept so the resolution repeats it
"""
from __future__ import annotations

from typing import Literal

Event = Literal["open", "resolve"] | None

EMPTY: dict = {"since": None, "off_since": None, "open": False, "opened_at": None, "active": False, "details": {}}


def step(latch: dict | None, active: bool, ts: float, confirm_s: float, clear_s: float,
         since: float | None = None, details: dict | None = None) -> tuple[dict, Event]:
    """Advance one latch to time `ts` with the condition `active`; return the new latch and what happened.

    `since` overrides when the condition began (a rule that knows it exactly, e.g. the
    no-activity deadline); otherwise the first `ts` seen active is used.
    """
    latch = dict(latch or EMPTY)
    latch["active"] = active
    if active:
        latch["off_since"] = None
        if latch["since"] is None:
            latch["since"] = ts if since is None else since
        if details is not None and not latch["open"]:
            latch["details"] = details
        if not latch["open"] and ts - latch["since"] >= confirm_s:
            latch.update(open=True, opened_at=max(ts, latch["since"]))
            return latch, "open"
        return latch, None
    if not latch["open"]:
        latch["since"] = None
        return latch, None
    if latch["off_since"] is None:
        latch["off_since"] = ts
    if ts - latch["off_since"] >= clear_s:
        return dict(latch, open=False, since=None, off_since=None), "resolve"
    return latch, None


def is_idle(latch: dict | None) -> bool:
    """A latch with nothing pending and nothing open need not be stored."""
    return latch is None or (not latch["open"] and latch["since"] is None)

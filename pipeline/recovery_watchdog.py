"""End a worker whose rebalance never completes, so its supervisor starts a fresh one.

Why: under heavy CPU load the worker-kill fault test once saw the surviving worker start reading its
table changelogs after the rebalance and then receive nothing for minutes ("No event received for active
tp ... since recovery start", then "Recovery has not flushed buffers"), while it held every partition: no
alert was raised by anyone until the test gave up. Faust only logs this. A fresh process recovers the same
changelogs in well under a second here, so the safe way out is to leave: the group moves the partitions
to the other workers at once, and the supervisor (docker-compose's `restart: unless-stopped`, systemd)
starts this one again. The check runs in a thread, so it works even if the event loop is the thing stuck.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)
EXIT_STUCK = 75  # EX_TEMPFAIL: a supervisor should start the worker again


def _leave(stuck_s: float) -> None:
    log.critical("rebalance and table recovery have not completed for %.0f s; exiting (code %d) so that the "
                 "other workers take the partitions over and the supervisor starts this worker afresh "
                 "(SCA_RECOVERY_TIMEOUT_S sets the limit, 0 disables the check)", stuck_s, EXIT_STUCK)
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(EXIT_STUCK)


@dataclass
class RecoveryWatchdog:
    """Knows when the current rebalance began; `check` gives up on it after `limit_s` (0: never)."""

    limit_s: float
    clock: Callable[[], float] = time.monotonic
    on_stuck: Callable[[float], None] = _leave
    started: float | None = field(default=None)

    def __post_init__(self) -> None:
        self.started = self.clock()  # the first assignment and recovery count too

    def rebalance_started(self) -> None:
        if self.started is None:
            self.started = self.clock()

    def rebalance_completed(self) -> None:
        self.started = None

    def check(self) -> bool:
        """True (after calling on_stuck) when the rebalance in progress has lasted longer than the limit."""
        started = self.started
        if not self.limit_s or started is None:
            return False
        stuck = self.clock() - started
        if stuck <= self.limit_s:
            return False
        self.on_stuck(stuck)
        return True

    def start(self, every_s: float = 5.0) -> threading.Thread:
        def loop() -> None:
            while not self.check():
                time.sleep(every_s)

        thread = threading.Thread(target=loop, name="recovery-watchdog", daemon=True)
        thread.start()
        return thread

"""A rebalance that never completes ends the worker; one that completes, or a disabled check, never does."""
from __future__ import annotations

import subprocess
import sys
import textwrap

from pipeline.recovery_watchdog import EXIT_STUCK, RecoveryWatchdog


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def watchdog(limit_s: float) -> tuple[RecoveryWatchdog, Clock, list[float]]:
    clock, stuck = Clock(), []
    return RecoveryWatchdog(limit_s, clock=clock, on_stuck=stuck.append), clock, stuck


def test_the_first_recovery_counts_from_the_start_and_a_stuck_one_gives_up_once_past_the_limit():
    dog, clock, stuck = watchdog(180)
    clock.now += 179
    assert not dog.check() and stuck == []
    clock.now += 2
    assert dog.check() and stuck == [181]


def test_completed_rebalances_are_never_stuck_and_a_new_one_starts_its_own_clock():
    dog, clock, stuck = watchdog(180)
    clock.now += 30
    dog.rebalance_completed()
    clock.now += 1000  # a long, healthy run
    assert not dog.check()
    dog.rebalance_started()
    clock.now += 100
    dog.rebalance_started()  # the revoke signal of a second rebalance inside the first: the first start counts
    clock.now += 100
    assert dog.check() and stuck == [200]


def test_zero_disables_the_check():
    dog, clock, stuck = watchdog(0)
    clock.now += 10_000
    assert not dog.check() and stuck == []


def test_a_stuck_worker_process_exits_with_the_supervisor_restart_code_and_says_why():
    code = textwrap.dedent("""
        import logging, time
        from pipeline.recovery_watchdog import RecoveryWatchdog
        logging.basicConfig(level=logging.INFO)
        RecoveryWatchdog(0.3).start(every_s=0.05)
        time.sleep(10)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert proc.returncode == EXIT_STUCK
    assert "have not completed" in proc.stderr and "SCA_RECOVERY_TIMEOUT_S" in proc.stderr

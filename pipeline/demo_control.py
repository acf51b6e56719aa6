"""The demo's control-room step: what an operator does with an alert, through the real API.

The demo starts the control-room API in a thread, creates an operator in the run directory's users
file, and works the thrown-object alert through its lifecycle (acknowledge, assign a guard, resolve
with a note); every step goes through Kafka to the alert manager, and the history it prints is what
the manager recorded.
"""
from __future__ import annotations

import time

import httpx

from pipeline.config import Site
from pipeline.control.api import create_control_app
from pipeline.control.publisher import KafkaPublisher
from pipeline.control.users import UserBook
from pipeline.serving import Running, serve_in_thread
from pipeline.settings import Settings

OPERATOR = "demo-operator"


class ControlRoom:
    def __init__(self, settings: Settings, site: Site):
        self.token = UserBook(settings.users_file).add(OPERATOR, "operator")
        self.publisher = KafkaPublisher(settings)
        app = create_control_app(site, UserBook(settings.users_file), self.publisher, settings.redis_url,
                                 settings.evidence_dir)
        self.running: Running = serve_in_thread(app, 0, "control room")
        self.client = httpx.Client(base_url=self.running.url, headers={"Authorization": f"Bearer {self.token}"},
                                   timeout=10, trust_env=False)

    def work(self, alert_id: str, steps: list[tuple[str, dict]], timeout_s: float = 30.0) -> list[str]:
        """Apply each action and wait until the manager has recorded it; returns the alert's history lines."""
        for action, body in steps:
            response = self.client.post(f"/v1/alerts/{alert_id}/{action}", json=body)
            response.raise_for_status()
            expected = {"acknowledge": "acknowledged", "assign": "assigned", "resolve": "resolved",
                        "false-alarm": "false_alarm"}[action]
            deadline = time.monotonic() + timeout_s
            while self.client.get(f"/v1/alerts/{alert_id}").json()["alert"]["status"] != expected:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the alert manager did not apply {action} within {timeout_s:g} s")
                time.sleep(0.2)
        history = self.client.get(f"/v1/alerts/{alert_id}").json()["history"]
        return [f"{time.strftime('%H:%M:%S', time.localtime(u['at']))}  {u['action']:<13} by {u['by']:<14} {u['note']}"
                for u in history]

    def close(self) -> None:
        self.client.close()
        self.running.stop()
        self.publisher.close()

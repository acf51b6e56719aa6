"""Worker counters, published to Redis every second so `sca worker status`, the demo and benchmarks can read them."""
from __future__ import annotations

import os
import socket
import time
from collections import Counter

WORKERS = "sca:workers"


def worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def stats_key(worker: str) -> str:
    return f"sca:worker:{worker}"


class WorkerStats:
    def __init__(self, worker: str):
        self.worker = worker
        self.started = time.time()
        self.counts: Counter[str] = Counter()
        self.ready = False

    def snapshot(self) -> dict[str, str]:
        data = {k: str(v) for k, v in self.counts.items()}
        data.update(worker=self.worker, started=f"{self.started:.3f}", updated=f"{time.time():.3f}",
                    ready="1" if self.ready else "0", pid=str(os.getpid()))
        return data

    async def publish(self, client, ttl_s: int = 10) -> None:
        key = stats_key(self.worker)
        pipe = client.pipeline(transaction=False)
        pipe.hset(key, mapping=self.snapshot())
        pipe.expire(key, ttl_s)
        pipe.sadd(WORKERS, self.worker)
        await pipe.execute()


def read_all(client) -> list[dict[str, str]]:
    """Every live worker's counters (sync client); stale members of the set are dropped."""
    result = []
    for member in client.smembers(WORKERS):
        raw = client.hgetall(stats_key(member.decode()))
        if not raw:
            client.srem(WORKERS, member)
            continue
        result.append({k.decode(): v.decode() for k, v in raw.items()})
    return result

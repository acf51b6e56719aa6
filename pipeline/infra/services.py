"""`sca infra up|down|status`: Kafka, Redis and Mosquitto together, in dependency order."""
from __future__ import annotations

from pipeline.infra.kafka_broker import KafkaBroker
from pipeline.infra.mosquitto_broker import MosquittoBroker
from pipeline.infra.redis_server import RedisServer
from pipeline.settings import Settings


Service = KafkaBroker | RedisServer | MosquittoBroker


def services(settings: Settings) -> dict[str, Service]:
    return {"redis": RedisServer(settings), "mosquitto": MosquittoBroker(settings), "kafka": KafkaBroker(settings)}


def up(settings: Settings, progress=print) -> dict[str, str]:
    """Start what is not running and wait until each service answers; idempotent."""
    result = {}
    for name, service in services(settings).items():
        progress(f"{name}: starting ...")
        result[name] = service.up()
        progress(f"{name}: {result[name]}")
    return result


def down(settings: Settings, only: list[str] | None = None) -> dict[str, str]:
    """Stop services (Kafka first so it can still flush while Redis goes); data stays on disk."""
    chosen = reversed(list(services(settings).items()))
    return {name: svc.down() for name, svc in chosen if not only or name in only}


def status(settings: Settings) -> dict[str, str]:
    return {name: svc.status() for name, svc in services(settings).items()}

"""Pure sensor rules (no Kafka, Redis or HTTP): per-device `evaluate`/`tick`, location-keyed fire `confirm`."""
from pipeline.sensors.confirm import confirm, confirm_key
from pipeline.sensors.rules import Decision, evaluate, tick
from pipeline.sensors.rules_config import RulesConfig, RulesConfigError, load_rules

__all__ = ["Decision", "RulesConfig", "RulesConfigError", "confirm", "confirm_key", "evaluate", "load_rules", "tick"]

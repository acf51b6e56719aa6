"""The live-service fixtures (infra, speakers, worker) come from tests/live_services.py, loaded as a
plugin by tests/conftest.py; these names are re-exported for the test modules that import them."""
from tests.live_services import HOOK_SECRET, SPEAKER_PORT, WorkerProcess, free_port  # noqa: F401

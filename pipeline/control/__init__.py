"""The control-room HTTP API (FastAPI) and its users."""

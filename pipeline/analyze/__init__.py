"""Offline analysis commands: run a vision core over a recorded video or detection file."""

"""Detectors that need no vision model: device liveness and sensor alarm flags."""

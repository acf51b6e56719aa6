"""Sensor gateway: readings arrive over HTTP or MQTT, are validated whole, and land on the readings topic."""

"""Vision cores: pure per-camera logic (numpy frames in, alerts and broadcast commands out), no Kafka inside."""

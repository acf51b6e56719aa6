"""Alert records, their ids and their store."""

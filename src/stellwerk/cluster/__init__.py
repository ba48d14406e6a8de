"""Several workers as one installation: heartbeats, and failover of a silent worker's work."""

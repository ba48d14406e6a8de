"""Several workers as one installation: heartbeats, failover, periodic jobs once per interval."""

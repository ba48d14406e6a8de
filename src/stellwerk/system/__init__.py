"""Service endpoints: status, health, metrics."""

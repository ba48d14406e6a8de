"""Sandboxes: stateful loopback servers that speak each provider's real wire protocol."""

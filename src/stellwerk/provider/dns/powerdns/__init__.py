"""PowerDNS Authoritative's HTTP API (no sandbox: tests run a real pdns_server)."""

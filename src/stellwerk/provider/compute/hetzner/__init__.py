"""Hetzner Cloud: servers through `hcloud` (adapter.py), the sandbox (sandbox.py), the catalog
the sandboxes share (catalog.py) and the OpenAPI document the sandbox checks itself against."""

"""Linode (Akamai): instances through `linode_api4` (adapter.py) and the sandbox (sandbox.py)."""

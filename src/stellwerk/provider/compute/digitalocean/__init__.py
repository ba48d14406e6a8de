"""DigitalOcean: droplets over a thin httpx client (adapter.py), the sandbox (sandbox.py) and
the OpenAPI document the sandbox checks itself against (spec.json)."""

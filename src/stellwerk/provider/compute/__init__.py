"""Compute providers: the `Compute` Protocol (base.py), adapters for Hetzner Cloud, Linode and
DigitalOcean, and a sandbox beside each (`<name>_sandbox.py`)."""

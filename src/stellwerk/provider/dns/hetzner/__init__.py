"""Hetzner DNS on the Cloud API's zones and rrsets (its sandbox is the Hetzner Cloud sandbox)."""

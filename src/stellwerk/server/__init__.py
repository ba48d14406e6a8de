"""Servers: provider accounts, plans and VPS instances at Linode, DigitalOcean and Hetzner."""

"""Platforms that build and run applications: the `Paas` Protocol (base.py) and Coolify."""

"""Customers: who holds licenses (admin panel)."""

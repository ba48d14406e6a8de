"""Notifications: events announced once, delivered to signed webhooks and by e-mail."""

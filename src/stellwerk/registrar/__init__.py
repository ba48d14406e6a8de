"""Registrar domains: availability, registration with a remembered default contact, transfers."""

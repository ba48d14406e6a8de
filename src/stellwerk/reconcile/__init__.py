"""Comparing Stellwerk's records with what the providers and runtimes actually hold."""

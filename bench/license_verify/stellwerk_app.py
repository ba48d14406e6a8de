"""Stellwerk's app for granian, configured from `STELLWERK_*` variables (set by run.py)."""

from __future__ import annotations

from stellwerk.app import create_app

app = create_app()

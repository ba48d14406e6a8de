"""License server metrics, shown on `/metrics`."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from stellwerk.metrics import Tally

# Counted on every license client call: plain numbers until scraped.
ACTIVATIONS = Tally(
    "stellwerk_license_activations_total",
    "License activation attempts, by result.",
    ("result",),
)
VERIFICATIONS = Tally(
    "stellwerk_license_verifications_total",
    "License verifications, by result (valid, expired, inactive, not_activated, ...).",
    ("result",),
)
HEARTBEATS = Tally("stellwerk_license_heartbeats_total", "Session heartbeats accepted.")
SESSIONS_STARTED = Counter("stellwerk_license_sessions_started_total", "Sessions started.")
SESSIONS_EXPIRED = Counter(
    "stellwerk_license_sessions_expired_total", "Sessions ended because heartbeats stopped."
)
ACTIVE_SESSIONS = Gauge("stellwerk_license_active_sessions", "Sessions currently open.")
LICENSES = Gauge("stellwerk_licenses", "Licenses in the database, by state.", ["state"])
LICENSES_DELETED = Counter("stellwerk_licenses_deleted_total", "Licenses deleted.")
DEVICES_CULLED = Counter(
    "stellwerk_license_devices_culled_total",
    "Devices that lost their seat after no heartbeat or verify for the configured time.",
)

"""The events Stellwerk announces, with what each means. Webhook endpoints subscribe to them
and e-mail recipients are configured per event."""

from __future__ import annotations

EVENTS: dict[str, str] = {
    "operation.failed": "An operation failed",
    "operation.completed": "An operation completed",
    "project.live": "A project went live",
    "server.state_changed": "A server changed its state (running, off, failed, deleted)",
    "redirect_domain.verified": "A redirect domain's DNS records were found and it is active",
    "redirect_domain.verification_failed": "A redirect domain's DNS records are missing or wrong",
    "license.activated": "A device took a seat of a license",
    "license.activation_limit_reached": "A device was refused: the license has no seat left",
    "license.expiring": "A license expires within 30 days",
    "license.expired": "A license expired",
    "module.install_failed": "A module could not be installed",
}

# Sent to an endpoint when it is tested from the API or the UI; no one subscribes to it.
PING = "webhook.ping"


def is_event(name: str) -> bool:
    return name in EVENTS

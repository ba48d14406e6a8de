"""The license client rules, in one place, for both ways an answer is made.

A license client's verify, activate and heartbeat are answered either by the FastAPI routes
(`license.router` → `license.service`) or, for well-formed requests, by the fast path in front
of the framework (`license.fastpath`). Both read the same rows (the statements in
`license.repository`) and decide here: whether a license can be used today and why not, the
order of the verdicts, the version flags, the messages, what may be left to the batched
bookkeeping, and the answer bodies. A new rule touches this module only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, NamedTuple

from stellwerk.kit.semver import Version, parse_version

# How often verify writes a device's last_heartbeat at most (a read path stays a read path).
TOUCH_INTERVAL = dt.timedelta(seconds=60)
# A session heartbeat is written in the background (within seconds) only while the session is
# this far from timing out; closer to it, the heartbeat is written before the answer.
HEARTBEAT_MARGIN = dt.timedelta(seconds=15)
VALID_MESSAGE = "License is valid"
ALREADY_ACTIVATED_MESSAGE = "License is already activated on this device"
ACTIVATED_MESSAGE = "License activated successfully"
MESSAGES = {
    "inactive": "License is inactive",
    "not_yet_valid": "License is not valid yet",
    "expired": "License has expired",
    "not_activated": "License is not activated on this hardware",
    "version_unsupported": "This application version is no longer supported; please update",
}


@dataclass(frozen=True)
class ReleaseInfo:
    version: str
    channel: str
    release_date: dt.date
    download_url: str | None
    release_notes: str | None
    min_supported_version: str | None


class DeviceRow(NamedTuple):
    """A license and one device's activation (absent: the activation fields are None), as the
    repository's `LICENSE_DEVICE` statement reads them. A named tuple: made from a row on every
    license client call, for a fraction of a frozen dataclass's cost."""

    license_id: int
    license_key: str
    license_type: str
    valid_from: dt.date
    valid_until: dt.date | None
    max_users: int
    is_active: bool
    activation_id: int | None
    activation_active: bool | None
    activation_heartbeat: dt.datetime | None
    hardware_hash: str | None
    machine_name: str | None
    app_version: str | None
    activated_at: dt.datetime | None


class SessionRow(NamedTuple):
    """A session with its license key and client settings (`SESSION_BY_TOKEN`)."""

    session_id: int
    license_id: int
    hardware_hash: str
    last_heartbeat: dt.datetime
    ended_at: dt.datetime | None
    end_reason: str | None
    license_key: str
    heartbeat_interval: int
    session_timeout: int


def unusable_reason(
    *, is_active: bool, valid_from: dt.date, valid_until: dt.date | None, today: dt.date
) -> str | None:
    """Why a license cannot be used today (None: it can), in this order."""
    if not is_active:
        return "inactive"
    if valid_from > today:
        return "not_yet_valid"
    if valid_until is not None and valid_until < today:
        return "expired"
    return None


def license_reason(row: DeviceRow, today: dt.date) -> str | None:
    return unusable_reason(
        is_active=row.is_active,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        today=today,
    )


def newer(latest: ReleaseInfo | None, current: str | None) -> bool:
    """Whether the latest release is newer than the client's version."""
    if latest is None or current is None:
        return False
    parsed = parse_version(current)
    return parsed is not None and Version.parse(latest.version) > parsed


def below_minimum(latest: ReleaseInfo | None, current: str | None) -> bool:
    """Whether the client's version is below the latest release's minimum supported one."""
    if latest is None or latest.min_supported_version is None or current is None:
        return False
    parsed = parse_version(current)
    return parsed is not None and parsed < Version.parse(latest.min_supported_version)


def verify_reason(row: DeviceRow, *, today: dt.date, unsupported_version: bool) -> str | None:
    """The verdict of a verification (None: valid); the first reason that applies wins."""
    reason = license_reason(row, today)
    if reason is None and not row.activation_active:
        reason = "not_activated"
    if reason is None and unsupported_version:
        reason = "version_unsupported"
    return reason


def touch_due(last_heartbeat: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether a device's last_heartbeat is old enough to be written again."""
    return last_heartbeat is None or now - last_heartbeat > TOUCH_INTERVAL


def verify_touch_due(row: DeviceRow, now: dt.datetime) -> bool:
    return bool(row.activation_active) and touch_due(row.activation_heartbeat, now)


def verify_answer(
    row: DeviceRow, reason: str | None, latest: ReleaseInfo | None, update_available: bool
) -> dict[str, Any]:
    return {
        "valid": reason is None,
        "message": VALID_MESSAGE if reason is None else MESSAGES[reason],
        "reason": reason,
        "license": {
            "key": row.license_key,
            "type": row.license_type,
            "valid_until": row.valid_until,
            "max_users": row.max_users,
        },
        "update_available": update_available,
        "latest_version": latest.version if latest else None,
        "min_supported_version": latest.min_supported_version if latest else None,
    }


def holds_seat_unchanged(
    row: DeviceRow, *, today: dt.date, machine_name: str | None, app_version: str | None
) -> bool:
    """Whether an activation is the device's repeat with nothing to change but the time: the
    license is usable, the device holds a seat, and the name and version sent (if any) are the
    stored ones. Such an activation takes no seat and needs no lock; its time can be batched."""
    return (
        row.activation_active is True
        and license_reason(row, today) is None
        and (not machine_name or machine_name == row.machine_name)
        and (not app_version or app_version == row.app_version)
    )


def activation_answer(
    *,
    activation_id: int,
    license_key: str,
    hardware_hash: str,
    machine_name: str | None,
    activated_at: dt.datetime,
    last_heartbeat: dt.datetime,
    is_active: bool,
    already_activated: bool,
) -> dict[str, Any]:
    return {
        "message": ALREADY_ACTIVATED_MESSAGE if already_activated else ACTIVATED_MESSAGE,
        "activation": {
            "id": activation_id,
            "license_key": license_key,
            "hardware_hash": hardware_hash,
            "machine_name": machine_name,
            "activated_at": activated_at,
            "last_heartbeat": last_heartbeat,
            "is_active": is_active,
        },
        "already_activated": already_activated,
    }


def session_timed_out(row: SessionRow, now: dt.datetime) -> bool:
    return now - row.last_heartbeat > dt.timedelta(seconds=row.session_timeout)


def heartbeat_can_wait(row: SessionRow, license_key: str, now: dt.datetime) -> bool:
    """Whether a heartbeat keeps a live session alive with its write left to the batched
    bookkeeping (written within seconds): the session is open, of this license, and far
    enough from its timeout that the expiry job cannot end it before the write lands."""
    return (
        row.ended_at is None
        and row.license_key == license_key
        and now - row.last_heartbeat <= dt.timedelta(seconds=row.session_timeout) - HEARTBEAT_MARGIN
    )


def heartbeat_answer(now: dt.datetime, heartbeat_interval: int) -> dict[str, Any]:
    return {"success": True, "last_heartbeat": now, "next_heartbeat_in": heartbeat_interval}

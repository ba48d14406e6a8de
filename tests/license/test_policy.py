"""The licensing rules both transports use (routes and fast path): the verdict order and what
may wait for the batched bookkeeping."""

from __future__ import annotations

import datetime as dt

from stellwerk.license import policy
from stellwerk.license.policy import DeviceRow, SessionRow

TODAY = dt.date(2026, 6, 1)
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def device(**changes: object) -> DeviceRow:
    values: dict[str, object] = {
        "license_id": 1,
        "license_key": "ABCD-EFGH-JKMN-PQRS",
        "license_type": "perpetual",
        "valid_from": dt.date(2026, 1, 1),
        "valid_until": None,
        "max_users": 1,
        "is_active": True,
        "activation_id": 7,
        "activation_active": True,
        "activation_heartbeat": NOW - dt.timedelta(minutes=5),
        "hardware_hash": "hw",
        "machine_name": "PC-1",
        "app_version": "1.0.0",
        "activated_at": NOW - dt.timedelta(days=3),
    }
    values.update(changes)
    return DeviceRow(**values)  # type: ignore[arg-type]


def test_the_first_reason_that_applies_wins() -> None:
    def reason(row: DeviceRow, unsupported: bool = False) -> str | None:
        return policy.verify_reason(row, today=TODAY, unsupported_version=unsupported)

    assert reason(device()) is None
    assert reason(device(), unsupported=True) == "version_unsupported"
    assert reason(device(activation_active=None), unsupported=True) == "not_activated"
    expired = device(valid_until=dt.date(2026, 5, 31), activation_active=False)
    assert reason(expired, unsupported=True) == "expired"
    assert reason(device(valid_from=dt.date(2026, 6, 2))) == "not_yet_valid"
    assert reason(device(is_active=False, valid_until=dt.date(2020, 1, 1))) == "inactive"
    assert reason(device(valid_until=TODAY)) is None  # the last day still counts


def test_a_repeated_activation_may_be_batched_only_without_changes() -> None:
    def unchanged(row: DeviceRow, name: str | None = None, version: str | None = None) -> bool:
        return policy.holds_seat_unchanged(row, today=TODAY, machine_name=name, app_version=version)

    assert unchanged(device())
    assert unchanged(device(), "PC-1", "1.0.0")
    assert not unchanged(device(), "PC-2")
    assert not unchanged(device(), version="1.1.0")
    assert not unchanged(device(activation_active=False))
    assert not unchanged(device(activation_id=None, activation_active=None))
    assert not unchanged(device(is_active=False))


def test_a_heartbeat_may_wait_only_far_from_the_timeout() -> None:
    def row(seconds_ago: float, **changes: object) -> SessionRow:
        values: dict[str, object] = {
            "session_id": 3,
            "license_id": 1,
            "hardware_hash": "hw",
            "last_heartbeat": NOW - dt.timedelta(seconds=seconds_ago),
            "ended_at": None,
            "end_reason": None,
            "license_key": "ABCD-EFGH-JKMN-PQRS",
            "heartbeat_interval": 30,
            "session_timeout": 90,
        }
        values.update(changes)
        return SessionRow(**values)  # type: ignore[arg-type]

    key = "ABCD-EFGH-JKMN-PQRS"
    assert policy.heartbeat_can_wait(row(30), key, NOW)
    assert policy.heartbeat_can_wait(row(75), key, NOW)  # exactly the margin before timing out
    assert not policy.heartbeat_can_wait(row(76), key, NOW)
    assert not policy.heartbeat_can_wait(row(30, ended_at=NOW), key, NOW)
    assert not policy.heartbeat_can_wait(row(30), "QRST-EFGH-JKMN-PQRS", NOW)
    assert policy.session_timed_out(row(91), NOW)
    assert not policy.session_timed_out(row(90), NOW)


def test_device_touches_at_most_once_a_minute() -> None:
    assert not policy.verify_touch_due(device(), NOW - dt.timedelta(minutes=4, seconds=30))
    assert policy.verify_touch_due(device(), NOW)
    assert not policy.verify_touch_due(device(activation_active=False), NOW)

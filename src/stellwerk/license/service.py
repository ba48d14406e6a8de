"""Licensing rules: licenses, device activations, sessions, releases, client configs and
signed offline license files.

Seat and session limits hold under concurrency: every change of a license's devices or
sessions first locks the license row (`LicenseRepository.lock`), then counts.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.config import Settings
from stellwerk.customer.repository import CustomerRepository
from stellwerk.database import Database, after_commit, after_rollback
from stellwerk.exceptions import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from stellwerk.kit.pagination import PageParams
from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.kit.secret import hash_token, random_string
from stellwerk.kit.semver import Version, parse_version
from stellwerk.kit.time import as_utc, iso, utc_now
from stellwerk.license import metrics, policy, signing
from stellwerk.license.bookkeeping import touches
from stellwerk.license.policy import (
    MESSAGES,
    TOUCH_INTERVAL,
    DeviceRow,
    ReleaseInfo,
    below_minimum,
    newer,
    unusable_reason,
)
from stellwerk.license.repository import (
    ActivationRepository,
    ClientConfigRepository,
    LicenseRepository,
    ReleaseRepository,
    SessionRepository,
)
from stellwerk.models import (
    ClientConfig,
    License,
    LicenseActivation,
    LicenseSession,
    Release,
)
from stellwerk.notify.service import notifier
from stellwerk.resource.repository import ResourceRepository
from stellwerk.runtime import Runtime

log = logging.getLogger(__name__)

TRIAL_DAYS = 14
# No 0/O, 1/I/L: keys are read aloud and typed in by hand.
KEY_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
SINGLE_SESSION_MESSAGE = (
    "Es ist nur eine Sitzung erlaubt. Eine andere Sitzung dieser Lizenz ist noch aktiv: "
    "beenden Sie sie oder warten Sie, bis sie abläuft."
)


class LicenseNotFound(NotFound):
    default_code = "license_not_found"

    def __init__(self) -> None:
        super().__init__("License not found")


class LicenseNotUsable(Forbidden):
    """The license exists but cannot be used now; `code` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(MESSAGES[reason], code=f"license_{reason}", extra={"reason": reason})


class ActivationLimitReached(Conflict):
    default_code = "activation_limit_reached"


def client_actor(ip: str | None) -> Actor:
    return Actor(user_id=None, name="license-client", credential="api_key", ip=ip)


def today() -> dt.date:
    return utc_now().date()


def _check_dates(license_type: str, valid_from: dt.date, valid_until: dt.date | None) -> None:
    if license_type in ("subscription", "trial") and valid_until is None:
        raise ValidationFailed(f"A {license_type} license needs valid_until", field="valid_until")
    if valid_until is not None and valid_until < valid_from:
        raise ValidationFailed("valid_until lies before valid_from", field="valid_until")


async def refresh_license_gauges(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session:
        counts = await LicenseRepository(session).counts_by_state()
        open_sessions = await SessionRepository(session).count_open()
    for state, count in counts.items():
        metrics.LICENSES.labels(state).set(count)
    metrics.ACTIVE_SESSIONS.set(open_sessions)


def _refresh_after_commit(session: AsyncSession) -> None:
    bind = session.bind
    if isinstance(bind, AsyncEngine):
        engine = bind

        async def refresh() -> None:
            await refresh_license_gauges(engine)

        after_commit(session, refresh)


# Releases: the latest per channel is cached briefly, so verify stays one query.


class ReleaseCatalog:
    def __init__(self, ttl_seconds: float = 5.0) -> None:
        self.ttl = ttl_seconds
        self._entries: dict[str, tuple[float, ReleaseInfo | None]] = {}

    def invalidate(self) -> None:
        self._entries.clear()

    def peek(self, channel: str = "stable") -> tuple[bool, ReleaseInfo | None]:
        """(True, latest) while cached, (False, None) when `latest` has to ask the database."""
        entry = self._entries.get(channel)
        if entry is not None and entry[0] > time.monotonic():
            return True, entry[1]
        return False, None

    def last_known(self, channel: str = "stable") -> tuple[bool, ReleaseInfo | None]:
        """(True, latest) if the channel was loaded since the last change, fresh or not."""
        entry = self._entries.get(channel)
        return (True, entry[1]) if entry is not None else (False, None)

    async def latest(self, session: AsyncSession, channel: str = "stable") -> ReleaseInfo | None:
        entry = self._entries.get(channel)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        releases = await ReleaseRepository(session).for_channel(channel)
        newest = max(releases, key=lambda r: Version.parse(r.version), default=None)
        info = (
            None
            if newest is None
            else ReleaseInfo(
                version=newest.version,
                channel=newest.channel,
                release_date=newest.release_date,
                download_url=newest.download_url,
                release_notes=newest.release_notes,
                min_supported_version=newest.min_supported_version,
            )
        )
        self._entries[channel] = (time.monotonic() + self.ttl, info)
        return info


catalog = ReleaseCatalog()


class LicenseService:
    async def generate_key(self, session: AsyncSession) -> str:
        repository = LicenseRepository(session)
        for _ in range(20):
            key = "-".join(random_string(4, KEY_ALPHABET) for _ in range(4))
            if not await repository.key_exists(key):
                return key
        raise Conflict("Could not find a free license key; try again", code="key_space_exhausted")

    async def create(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        customer_id: int,
        license_key: str | None = None,
        license_type: str = "perpetual",
        valid_from: dt.date | None = None,
        valid_until: dt.date | None = None,
        max_activations: int = 1,
        max_users: int = 1,
        is_active: bool = True,
        notes: str | None = None,
    ) -> License:
        customer = await CustomerRepository(session).get(customer_id)
        if customer is None:
            raise ValidationFailed(f"No customer with id {customer_id}", field="customer_id")
        valid_from = valid_from or today()
        if license_type == "trial" and valid_until is None:
            valid_until = valid_from + dt.timedelta(days=TRIAL_DAYS)
        _check_dates(license_type, valid_from, valid_until)
        repository = LicenseRepository(session)
        if license_key is None:
            license_key = await self.generate_key(session)
        elif await repository.key_exists(license_key):
            raise Conflict(f"The license key {license_key} exists", code="license_key_taken")
        license = License(
            license_key=license_key,
            customer_id=customer_id,
            license_type=license_type,
            valid_from=valid_from,
            valid_until=valid_until,
            max_activations=max_activations,
            max_users=max_users,
            is_active=is_active,
            notes=notes,
        )
        try:
            async with session.begin_nested():
                await repository.add(license)
        except IntegrityError as error:
            raise Conflict(
                f"The license key {license_key} exists", code="license_key_taken"
            ) from error
        license.customer = customer
        await audit.record(
            session,
            actor,
            "license.create",
            target_type="license",
            target_id=license.id,
            detail={
                "license_key": license_key,
                "customer_id": customer_id,
                "license_type": license_type,
                "max_activations": max_activations,
            },
        )
        _refresh_after_commit(session)
        return license

    async def get(self, session: AsyncSession, license_id: int) -> License:
        license = await LicenseRepository(session).get(license_id)
        if license is None:
            raise NotFound(f"No license with id {license_id}", code="license_not_found")
        return license

    async def get_by_key(self, session: AsyncSession, license_key: str) -> License:
        license = await LicenseRepository(session).get_by_key(license_key)
        if license is None:
            raise LicenseNotFound()
        return license

    async def list(
        self,
        session: AsyncSession,
        *,
        params: PageParams,
        query: str | None = None,
        customer_id: int | None = None,
        is_active: bool | None = None,
        license_type: str | None = None,
        expiring_within_days: int | None = None,
    ) -> tuple[Sequence[License], int]:
        """`expiring_within_days`: only licenses whose last day is within that many days."""
        expiring = None
        if expiring_within_days is not None:
            expiring = (today(), today() + dt.timedelta(days=expiring_within_days))
        return await LicenseRepository(session).list(
            query=query.strip() if query else None,
            customer_id=customer_id,
            is_active=is_active,
            license_type=license_type,
            offset=params.offset,
            limit=params.per_page,
            expiring_between=expiring,
        )

    async def sessions(
        self, session: AsyncSession, license: License, *, limit: int = 50
    ) -> Sequence[LicenseSession]:
        """The license's most recent sessions, open and ended."""
        return await SessionRepository(session).recent_for_license(license.id, limit=limit)

    async def active_devices(
        self, session: AsyncSession, licenses: Sequence[License]
    ) -> dict[int, int]:
        return await ActivationRepository(session).active_counts([lic.id for lic in licenses])

    async def update(
        self,
        session: AsyncSession,
        actor: Actor,
        license: License,
        *,
        changes: dict[str, Any],
        action: str = "license.update",
    ) -> License:
        required = ("customer_id", "license_type", "valid_from", "max_activations", "max_users")
        for field in (*required, "is_active"):
            if field in changes and changes[field] is None:
                raise ValidationFailed(f"{field} cannot be null", field=field)
        if "customer_id" in changes and changes["customer_id"] != license.customer_id:
            customer = await CustomerRepository(session).get(changes["customer_id"])
            if customer is None:
                raise ValidationFailed(
                    f"No customer with id {changes['customer_id']}", field="customer_id"
                )
            license.customer = customer
        license_type = changes.get("license_type", license.license_type)
        valid_from = changes.get("valid_from", license.valid_from)
        valid_until = changes.get("valid_until", license.valid_until)
        _check_dates(license_type, valid_from, valid_until)
        applied: dict[str, Any] = {}
        for field, value in changes.items():
            if getattr(license, field) != value:
                setattr(license, field, value)
                applied[field] = value.isoformat() if isinstance(value, dt.date) else value
        await session.flush()
        if applied:
            if applied.get("is_active") is False:
                await SessionRepository(session).end_for_licenses(
                    [license.id], now=utc_now(), reason="license_revoked"
                )
            await audit.record(
                session, actor, action, target_type="license", target_id=license.id, detail=applied
            )
            _refresh_after_commit(session)
        return license

    async def toggle(self, session: AsyncSession, actor: Actor, license: License) -> License:
        return await self.update(
            session,
            actor,
            license,
            changes={"is_active": not license.is_active},
            action="license.toggle",
        )

    async def _existing(self, session: AsyncSession, license_ids: Sequence[int]) -> Sequence[int]:
        wanted = sorted(set(license_ids))
        found = await LicenseRepository(session).existing_ids(wanted)
        missing = [i for i in wanted if i not in found]
        if missing:
            # All or nothing: a bulk change never applies to only some of the licenses.
            raise NotFound(
                f"No license with id {', '.join(map(str, missing))}",
                code="license_not_found",
                extra={"missing_ids": missing},
            )
        return wanted

    async def bulk_set_active(
        self, session: AsyncSession, actor: Actor, license_ids: Sequence[int], *, is_active: bool
    ) -> int:
        ids = await self._existing(session, license_ids)
        changed = await LicenseRepository(session).set_active(ids, is_active)
        if not is_active:
            await SessionRepository(session).end_for_licenses(
                ids, now=utc_now(), reason="license_revoked"
            )
        await audit.record(
            session,
            actor,
            "license.bulk_activate" if is_active else "license.bulk_deactivate",
            target_type="license",
            detail={"license_ids": list(ids), "changed": changed},
        )
        _refresh_after_commit(session)
        return changed

    async def bulk_delete(
        self, session: AsyncSession, actor: Actor, license_ids: Sequence[int]
    ) -> int:
        ids = await self._existing(session, license_ids)
        return await self._delete(session, actor, ids, action="license.bulk_delete")

    async def delete(self, session: AsyncSession, actor: Actor, license: License) -> None:
        await self._delete(session, actor, [license.id], action="license.delete")

    async def delete_for_customer(
        self, session: AsyncSession, actor: Actor, customer_id: int
    ) -> int:
        ids = await LicenseRepository(session).ids_for_customer(customer_id)
        if not ids:
            return 0
        return await self._delete(session, actor, ids, action="license.delete")

    async def _delete(
        self, session: AsyncSession, actor: Actor, ids: Sequence[int], *, action: str
    ) -> int:
        # Allocated resources return to the pool instead of staying allocated to nothing.
        await ResourceRepository(session).release_for_licenses(ids)
        deleted = await LicenseRepository(session).delete_many(ids)
        await audit.record(
            session,
            actor,
            action,
            target_type="license",
            target_id=ids[0] if len(ids) == 1 else None,
            detail={"license_ids": list(ids)},
        )

        async def count_deleted() -> None:
            metrics.LICENSES_DELETED.inc(deleted)

        after_commit(session, count_deleted)
        _refresh_after_commit(session)
        return deleted


@dataclass(frozen=True)
class Activated:
    activation: LicenseActivation
    license: License
    already_activated: bool


@dataclass(frozen=True)
class Verification:
    row: DeviceRow
    reason: str | None
    latest: ReleaseInfo | None
    update_available: bool

    @property
    def valid(self) -> bool:
        return self.reason is None

    @property
    def answer(self) -> dict[str, Any]:
        return policy.verify_answer(self.row, self.reason, self.latest, self.update_available)


def _announce_limit_reached(
    session: AsyncSession, license: License, used: int, machine_name: str | None
) -> None:
    """`license.activation_limit_reached`, once a day per license; written after the refused
    activation's transaction has rolled back."""
    engine = session.bind
    data = {
        "license_id": license.id,
        "customer_id": license.customer_id,
        "active_devices": used,
        "max_activations": license.max_activations,
        "machine_name": machine_name,
        "path": f"/ui/licenses/{license.id}",
        "summary": f"License {license.id} is at its activation limit ({used} devices)",
    }
    key = f"license.activation_limit_reached:{license.id}:{today().isoformat()}"

    async def announce() -> None:
        if isinstance(engine, AsyncEngine):
            await notifier.emit_detached(engine, "license.activation_limit_reached", data, key=key)

    after_rollback(session, announce)


async def announce_expiry(
    database: Database, settings: Settings, *, on: dt.date | None = None
) -> int:
    """`license.expiring` for active licenses that end within `license_expiring_days`, and
    `license.expired` for those that ended in the last week; each once per end date."""
    day = on or today()
    announced = 0
    async with database.session() as session:
        ending = await LicenseRepository(session).ending_between(
            day - dt.timedelta(days=7), day + dt.timedelta(days=settings.license_expiring_days)
        )
        for license in ending:
            assert license.valid_until is not None
            expired = license.valid_until < day
            event = "license.expired" if expired else "license.expiring"
            days = (license.valid_until - day).days
            data = {
                "license_id": license.id,
                "customer_id": license.customer_id,
                "valid_until": license.valid_until.isoformat(),
                "days_left": max(0, days),
                "path": f"/ui/licenses/{license.id}",
                "summary": (
                    f"License {license.id} expired on {license.valid_until.isoformat()}"
                    if expired
                    else f"License {license.id} expires on {license.valid_until.isoformat()}"
                ),
            }
            key = f"{event}:{license.id}:{license.valid_until.isoformat()}"
            if await notifier.emit(session, event, data, key=key) is not None:
                announced += 1
    return announced


class ActivationService:
    async def activate(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        license_key: str | None = None,
        license_id: int | None = None,
        hardware_hash: str,
        machine_name: str | None = None,
        app_version: str | None = None,
        limiter: RateLimiter | None = None,
        rate_limit: str | None = None,
    ) -> Activated:
        """Take a seat for a device; the same device again is no new seat."""
        repository = LicenseRepository(session)
        found = (
            await repository.get_by_key(license_key)
            if license_key is not None
            else await repository.get(license_id or 0)
        )
        if found is None:
            metrics.ACTIVATIONS.labels("not_found").inc()
            raise LicenseNotFound()
        license = await repository.lock(found.id)
        if license is None:
            raise LicenseNotFound()
        reason = unusable_reason(
            is_active=license.is_active,
            valid_from=license.valid_from,
            valid_until=license.valid_until,
            today=today(),
        )
        if reason is not None:
            metrics.ACTIVATIONS.labels(reason).inc()
            raise LicenseNotUsable(reason)
        activations = ActivationRepository(session)
        existing = await activations.get_for_hardware(license.id, hardware_hash)
        now = utc_now()
        if existing is not None and existing.is_active:
            existing.machine_name = machine_name or existing.machine_name
            existing.app_version = app_version or existing.app_version
            existing.last_heartbeat = now
            await session.flush()
            metrics.ACTIVATIONS.labels("already_activated").inc()
            return Activated(existing, license, already_activated=True)
        used = await activations.count_active(license.id)
        if used >= license.max_activations:
            metrics.ACTIVATIONS.labels("limit_reached").inc()
            _announce_limit_reached(session, license, used, machine_name)
            raise ActivationLimitReached(
                f"Activation limit reached: {used} of {license.max_activations} devices are "
                "active; deactivate one first",
                extra={"max_activations": license.max_activations, "active_devices": used},
            )
        if limiter is not None and rate_limit is not None:
            try:
                await limiter.hit(rate_limit, "license-activation", str(license.id))
            except RateLimited:
                metrics.ACTIVATIONS.labels("rate_limited").inc()
                raise
        if existing is not None:
            existing.is_active = True
            existing.deactivated_at = None
            existing.activated_at = now
            existing.last_heartbeat = now
            existing.machine_name = machine_name or existing.machine_name
            existing.app_version = app_version or existing.app_version
            activation = existing
            await session.flush()
        else:
            activation = await activations.add(
                LicenseActivation(
                    license_id=license.id,
                    hardware_hash=hardware_hash,
                    machine_name=machine_name,
                    app_version=app_version,
                    activated_at=now,
                    last_heartbeat=now,
                )
            )
        await audit.record(
            session,
            actor,
            "license.activate",
            target_type="license",
            target_id=license.id,
            detail={"device_id": activation.id, "machine_name": machine_name},
        )
        await notifier.emit(
            session,
            "license.activated",
            {
                "license_id": license.id,
                "customer_id": license.customer_id,
                "device_id": activation.id,
                "machine_name": machine_name,
                "app_version": app_version,
                "active_devices": used + 1,
                "max_activations": license.max_activations,
                "path": f"/ui/licenses/{license.id}",
                "summary": f"License {license.id} activated on {machine_name or 'a device'}",
            },
        )

        async def count() -> None:
            metrics.ACTIVATIONS.labels("activated").inc()

        after_commit(session, count)
        return Activated(activation, license, already_activated=False)

    async def deactivate(
        self,
        session: AsyncSession,
        actor: Actor,
        license: License,
        activation: LicenseActivation,
        *,
        reason: str | None = None,
    ) -> None:
        """Free the device's seat; its open sessions end."""
        await LicenseRepository(session).lock(license.id)
        if not activation.is_active:
            return
        activation.is_active = False
        activation.deactivated_at = utc_now()
        await session.flush()
        await SessionRepository(session).end_for_device(
            license.id, activation.hardware_hash, now=utc_now(), reason="device_deactivated"
        )
        _refresh_after_commit(session)
        await audit.record(
            session,
            actor,
            "license.deactivate_device",
            target_type="license",
            target_id=license.id,
            detail={"device_id": activation.id, **({"reason": reason} if reason else {})},
        )

    async def cull_silent(self, database: Database, settings: Settings, *, batch: int = 500) -> int:
        """Deactivate devices without a heartbeat or verify for
        `STELLWERK_LICENSE_DEVICE_INACTIVE_DAYS` (0: never), freeing their seats, as Keygen
        deactivates dead machines. Each in a transaction of its own, checked again under the
        license's lock, so a device that called in meanwhile keeps its seat."""
        days = settings.license_device_inactive_days
        if days <= 0:
            return 0
        cutoff = utc_now() - dt.timedelta(days=days)
        culled = 0
        async with database.session() as session:
            candidates = await ActivationRepository(session).silent_since(cutoff, limit=batch)
        for license_id, device_id in candidates:
            async with database.session() as session:
                license = await LicenseRepository(session).lock(license_id)
                activation = await ActivationRepository(session).get(license_id, device_id)
                if license is None or activation is None or not activation.is_active:
                    continue
                if as_utc(activation.last_heartbeat) >= cutoff:
                    continue  # it called in after all
                await self.deactivate(
                    session, Actor.system(), license, activation, reason="inactive"
                )
            culled += 1
            metrics.DEVICES_CULLED.inc()
        if culled:
            log.info("deactivated silent license devices", extra={"count": culled, "days": days})
        return culled

    async def deactivate_hardware(
        self, session: AsyncSession, actor: Actor, *, license_key: str, hardware_hash: str
    ) -> None:
        license = await license_service.get_by_key(session, license_key)
        activation = await ActivationRepository(session).get_for_hardware(license.id, hardware_hash)
        if activation is None or not activation.is_active:
            raise NotFound("This device is not activated", code="device_not_activated")
        await self.deactivate(session, actor, license, activation)

    async def deactivate_device(
        self, session: AsyncSession, actor: Actor, license: License, device_id: int
    ) -> LicenseActivation:
        activation = await ActivationRepository(session).get(license.id, device_id)
        if activation is None:
            raise NotFound(
                f"License {license.id} has no device {device_id}", code="device_not_found"
            )
        await self.deactivate(session, actor, license, activation)
        return activation

    async def devices(self, session: AsyncSession, license: License) -> Sequence[LicenseActivation]:
        return await ActivationRepository(session).list_for_license(license.id)

    async def per_day(
        self, session: AsyncSession, *, days: int, license_id: int | None = None
    ) -> dict[dt.date, int]:
        """Activations per UTC day over the last `days` days, today included."""
        start = today() - dt.timedelta(days=days - 1)
        since = dt.datetime.combine(start, dt.time(0, 0), tzinfo=dt.UTC)
        return await ActivationRepository(session).per_day(since=since, license_id=license_id)

    async def verify(
        self,
        session: AsyncSession,
        *,
        license_key: str,
        hardware_hash: str,
        app_version: str | None,
        channel: str = "stable",
    ) -> Verification:
        """Whether the license may run on this device, and if not, why. One query."""
        row = await LicenseRepository(session).device_row(license_key, hardware_hash)
        if row is None:
            metrics.VERIFICATIONS.labels("not_found").inc()
            raise LicenseNotFound()
        latest = await catalog.latest(session, channel)
        now = utc_now()
        reason = policy.verify_reason(
            row, today=now.date(), unsupported_version=below_minimum(latest, app_version)
        )
        if policy.verify_touch_due(row, now):
            assert row.activation_id is not None
            if touches.running:
                # Batched off the request path (see bookkeeping); direct only without the app.
                touches.add(row.activation_id, now)
            else:
                await ActivationRepository(session).touch(row.activation_id, now)
        metrics.VERIFICATIONS.labels(reason or "valid").inc()
        return Verification(row, reason, latest, newer(latest, app_version))


@dataclass(frozen=True)
class StartedSession:
    token: str
    record: LicenseSession
    config: ClientConfig
    latest: ReleaseInfo | None
    latest_version: str
    update_available: bool


class SessionService:
    async def start(
        self,
        session: AsyncSession,
        *,
        license_key: str,
        hardware_hash: str,
        machine_id: str | None,
        version: str | None,
        client_name: str,
        ip: str | None,
    ) -> StartedSession:
        config = await ClientConfigRepository(session).get_by_name(client_name)
        if config is None:
            raise NotFound(
                f"The client application {client_name!r} is not configured",
                code="client_not_configured",
            )
        found = await license_service.get_by_key(session, license_key)
        latest = await catalog.latest(session)
        if below_minimum(latest, version):
            raise LicenseNotUsable("version_unsupported")
        repository = LicenseRepository(session)
        license = await repository.lock(found.id)
        if license is None:
            raise LicenseNotFound()
        reason = unusable_reason(
            is_active=license.is_active,
            valid_from=license.valid_from,
            valid_until=license.valid_until,
            today=today(),
        )
        if reason is not None:
            raise LicenseNotUsable(reason)
        activation = await ActivationRepository(session).get_for_hardware(license.id, hardware_hash)
        if activation is None or not activation.is_active:
            raise LicenseNotUsable("not_activated")
        sessions = SessionRepository(session)
        now = utc_now()
        # A crashed client's session must not block the restart: time out stale ones first.
        expired = await sessions.end_stale(
            client_config_id=config.id,
            older_than=now - dt.timedelta(seconds=config.session_timeout),
            now=now,
            license_id=license.id,
        )
        if expired:
            _count_expired(session, expired)
        open_sessions = [
            s
            for s in await sessions.open_for_license(license.id)
            if s.client_config_id == config.id
        ]
        if config.single_session and open_sessions:
            raise Conflict(SINGLE_SESSION_MESSAGE, code="single_session_only")
        if len(open_sessions) >= license.max_users:
            raise Conflict(
                f"All {license.max_users} user session(s) of this license are in use",
                code="session_limit_reached",
            )
        token = str(uuid.uuid4())
        record = await sessions.add(
            LicenseSession(
                token_hash=hash_token(token),
                license_id=license.id,
                client_config_id=config.id,
                machine_id=machine_id,
                hardware_hash=hardware_hash,
                version=version,
                ip=ip,
                started_at=now,
                last_heartbeat=now,
            )
        )

        async def count() -> None:
            metrics.SESSIONS_STARTED.inc()
            metrics.ACTIVE_SESSIONS.inc()

        after_commit(session, count)
        # Before the first release, the client config's current version is the latest one.
        latest_version = latest.version if latest else config.current_version
        current = parse_version(version) if version else None
        update_available = current is not None and current < Version.parse(latest_version)
        return StartedSession(token, record, config, latest, latest_version, update_available)

    async def _find(self, session: AsyncSession, token: str) -> LicenseSession:
        record = await SessionRepository(session).get_by_token_hash(hash_token(token))
        if record is None:
            raise NotFound("Session not found", code="session_not_found")
        return record

    async def heartbeat(
        self, session: AsyncSession, *, token: str, license_key: str
    ) -> dict[str, Any]:
        """Keep the session alive; the answer body (`policy.heartbeat_answer`)."""
        sessions = SessionRepository(session)
        row = await sessions.row_by_token(hash_token(token))
        if row is None or row.license_key != license_key:
            raise NotFound("Session not found", code="session_not_found")
        now = utc_now()
        end_reason = row.end_reason
        if row.ended_at is None and policy.session_timed_out(row, now):
            end_reason = "timeout"
            await sessions.end_one(row.session_id, now=now, reason=end_reason)
            _count_expired(session, 1)
        if row.ended_at is not None or end_reason == "timeout":
            raise Conflict(
                f"The session has ended ({end_reason}); start a new one",
                code="session_ended",
                extra={"end_reason": end_reason},
            )
        await sessions.set_heartbeat(row.session_id, now)
        await ActivationRepository(session).touch_hardware(
            row.license_id, row.hardware_hash, at=now, older_than=now - TOUCH_INTERVAL
        )
        metrics.HEARTBEATS.inc()
        return policy.heartbeat_answer(now, row.heartbeat_interval)

    async def end(self, session: AsyncSession, *, token: str) -> LicenseSession:
        """End the session; ending it again answers with how it ended."""
        record = await self._find(session, token)
        if record.ended_at is None:
            record.ended_at = utc_now()
            record.end_reason = "normal"
            await session.flush()

            async def count() -> None:
                metrics.ACTIVE_SESSIONS.dec()

            after_commit(session, count)
        return record

    async def expire(self, session: AsyncSession) -> int:
        """End every session whose client stopped sending heartbeats (the periodic job)."""
        now = utc_now()
        total = 0
        sessions = SessionRepository(session)
        for config in await ClientConfigRepository(session).all():
            total += await sessions.end_stale(
                client_config_id=config.id,
                older_than=now - dt.timedelta(seconds=config.session_timeout),
                now=now,
            )
        if total:
            metrics.SESSIONS_EXPIRED.inc(total)
        metrics.ACTIVE_SESSIONS.set(await sessions.count_open())
        return total


def _count_expired(session: AsyncSession, count: int) -> None:
    async def record() -> None:
        metrics.SESSIONS_EXPIRED.inc(count)
        metrics.ACTIVE_SESSIONS.dec(count)

    after_commit(session, record)


def session_duration(record: LicenseSession) -> int:
    ended = record.ended_at or utc_now()
    return max(0, int((as_utc(ended) - as_utc(record.started_at)).total_seconds()))


class ReleaseService:
    async def create(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        version: str,
        channel: str = "stable",
        release_date: dt.date | None = None,
        download_url: str | None = None,
        release_notes: str | None = None,
        min_supported_version: str | None = None,
    ) -> Release:
        repository = ReleaseRepository(session)
        if await repository.get_version(channel, version):
            raise Conflict(
                f"Version {version} is already published on {channel}", code="release_exists"
            )
        if min_supported_version and Version.parse(min_supported_version) > Version.parse(version):
            raise ValidationFailed(
                "min_supported_version lies above the version itself",
                field="min_supported_version",
            )
        release = Release(
            version=version,
            channel=channel,
            release_date=release_date or today(),
            download_url=download_url,
            release_notes=release_notes,
            min_supported_version=min_supported_version,
        )
        try:
            async with session.begin_nested():
                await repository.add(release)
        except IntegrityError as error:
            raise Conflict(
                f"Version {version} is already published on {channel}", code="release_exists"
            ) from error
        await audit.record(
            session,
            actor,
            "release.create",
            target_type="release",
            target_id=release.id,
            detail={"version": version, "channel": channel},
        )
        self._invalidate(session)
        return release

    def _invalidate(self, session: AsyncSession) -> None:
        catalog.invalidate()

        async def invalidate() -> None:
            catalog.invalidate()

        after_commit(session, invalidate)

    async def get(self, session: AsyncSession, release_id: int) -> Release:
        release = await ReleaseRepository(session).get(release_id)
        if release is None:
            raise NotFound(f"No release with id {release_id}", code="release_not_found")
        return release

    async def list(
        self, session: AsyncSession, *, channel: str | None, params: PageParams
    ) -> tuple[Sequence[Release], int]:
        return await ReleaseRepository(session).list(
            channel=channel, offset=params.offset, limit=params.per_page
        )

    async def update(
        self, session: AsyncSession, actor: Actor, release: Release, *, changes: dict[str, Any]
    ) -> Release:
        if changes.get("release_date", release.release_date) is None:
            raise ValidationFailed("release_date cannot be null", field="release_date")
        minimum = changes.get("min_supported_version", release.min_supported_version)
        if minimum and Version.parse(minimum) > Version.parse(release.version):
            raise ValidationFailed(
                "min_supported_version lies above the version itself",
                field="min_supported_version",
            )
        applied = {k: v for k, v in changes.items() if getattr(release, k) != v}
        for field, value in applied.items():
            setattr(release, field, value)
        await session.flush()
        if applied:
            await audit.record(
                session,
                actor,
                "release.update",
                target_type="release",
                target_id=release.id,
                detail={k: str(v) for k, v in applied.items()},
            )
            self._invalidate(session)
        return release

    async def delete(self, session: AsyncSession, actor: Actor, release: Release) -> None:
        await ReleaseRepository(session).delete(release)
        await audit.record(
            session,
            actor,
            "release.delete",
            target_type="release",
            target_id=release.id,
            detail={"version": release.version, "channel": release.channel},
        )
        self._invalidate(session)

    async def latest(self, session: AsyncSession, channel: str = "stable") -> ReleaseInfo:
        info = await catalog.latest(session, channel)
        if info is None:
            raise NotFound(f"No release is published on {channel}", code="no_release")
        return info

    async def check(
        self,
        session: AsyncSession,
        *,
        current_version: str,
        license_key: str | None,
        channel: str = "stable",
    ) -> tuple[ReleaseInfo | None, bool, bool]:
        """The latest release, whether it is newer, and whether updating is required."""
        if license_key is not None:
            await license_service.get_by_key(session, license_key)
        info = await catalog.latest(session, channel)
        return info, newer(info, current_version), below_minimum(info, current_version)


class ClientConfigService:
    async def ensure(self, session: AsyncSession, *, name: str) -> ClientConfig | None:
        """Create the default client on first start; None if it exists."""
        repository = ClientConfigRepository(session)
        if await repository.get_by_name(name) is not None:
            return None
        config = await repository.add(ClientConfig(name=name))
        await audit.record(
            session,
            Actor.system(),
            "client_config.create",
            target_type="client_config",
            target_id=config.id,
            detail={"name": name},
        )
        return config

    async def create(
        self, session: AsyncSession, actor: Actor, *, name: str, **options: Any
    ) -> ClientConfig:
        repository = ClientConfigRepository(session)
        if await repository.get_by_name(name):
            raise Conflict(f"A client named {name!r} exists", code="client_config_exists")
        config = ClientConfig(name=name.strip(), **options)
        try:
            async with session.begin_nested():
                await repository.add(config)
        except IntegrityError as error:
            raise Conflict(
                f"A client named {name!r} exists", code="client_config_exists"
            ) from error
        await audit.record(
            session,
            actor,
            "client_config.create",
            target_type="client_config",
            target_id=config.id,
            detail={"name": name, **options},
        )
        return config

    async def get(self, session: AsyncSession, config_id: int) -> ClientConfig:
        config = await ClientConfigRepository(session).get(config_id)
        if config is None:
            raise NotFound(f"No client config with id {config_id}", code="client_config_not_found")
        return config

    async def list(
        self, session: AsyncSession, *, params: PageParams
    ) -> tuple[Sequence[ClientConfig], int]:
        return await ClientConfigRepository(session).list(
            offset=params.offset, limit=params.per_page
        )

    async def update(
        self, session: AsyncSession, actor: Actor, config: ClientConfig, *, changes: dict[str, Any]
    ) -> ClientConfig:
        for field in ("name", "current_version", "heartbeat_interval", "session_timeout"):
            if field in changes and changes[field] is None:
                raise ValidationFailed(f"{field} cannot be null", field=field)
        if "single_session" in changes and changes["single_session"] is None:
            raise ValidationFailed("single_session cannot be null", field="single_session")
        interval = changes.get("heartbeat_interval", config.heartbeat_interval)
        timeout = changes.get("session_timeout", config.session_timeout)
        if timeout <= interval:
            raise ValidationFailed(
                "session_timeout must be longer than heartbeat_interval", field="session_timeout"
            )
        renamed = "name" in changes and changes["name"].lower() != config.name.lower()
        if renamed and await ClientConfigRepository(session).get_by_name(changes["name"]):
            raise Conflict(
                f"A client named {changes['name']!r} exists", code="client_config_exists"
            )
        applied = {k: v for k, v in changes.items() if getattr(config, k) != v}
        for field, value in applied.items():
            setattr(config, field, value)
        await session.flush()
        if applied:
            await audit.record(
                session,
                actor,
                "client_config.update",
                target_type="client_config",
                target_id=config.id,
                detail=applied,
            )
        return config

    async def delete(
        self, session: AsyncSession, actor: Actor, config: ClientConfig, *, default_name: str
    ) -> None:
        if config.name.lower() == default_name.lower():
            raise Conflict(
                "The default client cannot be deleted; sessions without a client name use it",
                code="default_client",
            )
        await ClientConfigRepository(session).delete(config)
        await audit.record(
            session,
            actor,
            "client_config.delete",
            target_type="client_config",
            target_id=config.id,
            detail={"name": config.name},
        )


class LicenseFileService:
    """Offline license files: a JSON document bound to one device, signed with Ed25519."""

    async def signing_key(self, runtime: Runtime) -> signing.SigningKey:
        """The installation's signing key (the same on every host)."""
        return await signing.load(runtime.database, runtime.master_key, runtime.settings.data_dir)

    async def issue(
        self,
        session: AsyncSession,
        *,
        license_key: str,
        hardware_hash: str,
        key: signing.SigningKey,
        days: int,
    ) -> dict[str, str]:
        license = await license_service.get_by_key(session, license_key)
        reason = unusable_reason(
            is_active=license.is_active,
            valid_from=license.valid_from,
            valid_until=license.valid_until,
            today=today(),
        )
        if reason is not None:
            raise LicenseNotUsable(reason)
        activation = await ActivationRepository(session).get_for_hardware(license.id, hardware_hash)
        if activation is None or not activation.is_active:
            raise LicenseNotUsable("not_activated")
        now = utc_now().replace(microsecond=0)
        expires_at = now + dt.timedelta(days=days)
        if license.valid_until is not None:
            end_of_license = dt.datetime.combine(
                license.valid_until + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC
            )
            expires_at = min(expires_at, end_of_license)
        document = {
            "license_key": license.license_key,
            "hardware_hash": hardware_hash,
            "customer_name": license.customer.name,
            "type": license.license_type,
            "valid_from": license.valid_from.isoformat(),
            "valid_until": license.valid_until.isoformat() if license.valid_until else None,
            "max_users": license.max_users,
            "issued_at": iso(now),
            "expires_at": iso(expires_at),
            "nonce": secrets.token_hex(8),
        }
        payload = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
        return {
            "format": "stellwerk-license-v1",
            "algorithm": "Ed25519",
            "key_id": key.key_id,
            "payload": base64.b64encode(payload).decode(),
            "signature": key.sign(payload),
        }


license_service = LicenseService()
license = license_service
activation = ActivationService()
license_session = SessionService()
release = ReleaseService()
client_config = ClientConfigService()
license_file = LicenseFileService()

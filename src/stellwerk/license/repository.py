"""All SQL for licenses, activations, sessions, releases and client configs.

The license client's hot statements (`LICENSE_DEVICE`, `SESSION_BY_TOKEN`, `ACTIVE_API_KEYS`)
are module-level: the ORM session runs them here, and the fast path compiles the same
statements once for its raw driver (`kit.rawsql`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Table,
    and_,
    bindparam,
    column,
    delete,
    func,
    literal_column,
    or_,
    select,
    table,
    union,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload
from sqlalchemy.sql import TableClause
from sqlalchemy.sql.dml import Update

from stellwerk.kit.query import contains, contains_any, search_index
from stellwerk.license.policy import DeviceRow, SessionRow
from stellwerk.models import (
    ClientConfig,
    Customer,
    License,
    LicenseActivation,
    LicenseSession,
    Release,
    SystemApiKey,
)

# The trigram search tables kept beside the searched tables on SQLite (migration 1930); rowid is
# the searched row's id.
LICENSES_SEARCH = table("licenses_search", column("rowid"), column("license_key"))
DEVICES_SEARCH = table(
    "license_activations_search",
    column("rowid"),
    column("hardware_hash"),
    column("machine_name"),
)


# A license by key and one device's activation, in one round trip over two unique indexes.
LICENSE_DEVICE = (
    select(
        License.id,
        License.license_key,
        License.license_type,
        License.valid_from,
        License.valid_until,
        License.max_users,
        License.is_active,
        LicenseActivation.id,
        LicenseActivation.is_active,
        LicenseActivation.last_heartbeat,
        LicenseActivation.hardware_hash,
        LicenseActivation.machine_name,
        LicenseActivation.app_version,
        LicenseActivation.activated_at,
    )
    .outerjoin(
        LicenseActivation,
        and_(
            LicenseActivation.license_id == License.id,
            LicenseActivation.hardware_hash == bindparam("hardware_hash"),
        ),
    )
    .where(License.license_key == bindparam("license_key"))
)
# A session by its token's digest, with its license key and client settings.
SESSION_BY_TOKEN = (
    select(
        LicenseSession.id,
        LicenseSession.license_id,
        LicenseSession.hardware_hash,
        LicenseSession.last_heartbeat,
        LicenseSession.ended_at,
        LicenseSession.end_reason,
        License.license_key,
        ClientConfig.heartbeat_interval,
        ClientConfig.session_timeout,
    )
    .join(License, License.id == LicenseSession.license_id)
    .join(ClientConfig, ClientConfig.id == LicenseSession.client_config_id)
    .where(LicenseSession.token_hash == bindparam("token_hash"))
)
# `last_heartbeat` refreshes of the license clients' bookkeeping, batched or not (`b_*` bind
# parameters). They never move a time backwards, touch only a device that holds its seat and only
# an open session.
_activations_table = cast(Table, LicenseActivation.__table__)
_sessions_table = cast(Table, LicenseSession.__table__)
_HEARTBEAT = _activations_table.c.last_heartbeat.type
_SESSION_HEARTBEAT = _sessions_table.c.last_heartbeat.type


def _touch_activation(activation_id: Any, at: Any) -> Update:
    return (
        update(_activations_table)
        .where(
            _activations_table.c.id == activation_id,
            # Never move a heartbeat backwards (a session heartbeat may have written a newer one).
            _activations_table.c.last_heartbeat < at,
        )
        .values(last_heartbeat=at)
    )


def _touch_device(license_id: Any, hardware_hash: Any, at: Any, older: Any) -> Update:
    """Session heartbeats know the device by license and hardware hash."""
    return (
        update(_activations_table)
        .where(
            _activations_table.c.license_id == license_id,
            _activations_table.c.hardware_hash == hardware_hash,
            _activations_table.c.is_active.is_(True),
            _activations_table.c.last_heartbeat < older,
        )
        .values(last_heartbeat=at)
    )


def _touch_session(session_id: Any, at: Any) -> Update:
    """A live session's heartbeat; never for an ended session, never backwards."""
    return (
        update(_sessions_table)
        .where(
            _sessions_table.c.id == session_id,
            _sessions_table.c.ended_at.is_(None),
            _sessions_table.c.last_heartbeat < at,
        )
        .values(last_heartbeat=at)
    )


TOUCH_ACTIVATION = _touch_activation(bindparam("b_id"), bindparam("b_at", type_=_HEARTBEAT))
TOUCH_DEVICE = _touch_device(
    bindparam("b_license"),
    bindparam("b_hardware"),
    bindparam("b_at", type_=_HEARTBEAT),
    bindparam("b_older", type_=_HEARTBEAT),
)
TOUCH_SESSION = _touch_session(bindparam("b_id"), bindparam("b_at", type_=_SESSION_HEARTBEAT))

# On SQLite a batch is one statement, its rows one JSON array (`b_rows`) whose items hold the
# single statement's parameters in the order of its `b_` names above (touch and session: id,
# time; device: license id, hardware hash, time, older than), as that statement binds them
# (times as `kit.db.sqlite_utc_text`): the rows are updated inside SQLite, not one statement each.
_batch = func.json_each(bindparam("b_rows")).table_valued("value", name="batch")


def _field(index: int) -> Any:
    return func.json_extract(_batch.c.value, literal_column(f"'$[{index}]'"))


TOUCH_BATCHES = {
    "touch": _touch_activation(_field(0), _field(1)),
    "device": _touch_device(_field(0), _field(1), _field(2), _field(3)),
    "session": _touch_session(_field(0), _field(1)),
}

# The digests of the system API keys license clients may use.
ACTIVE_API_KEYS = select(SystemApiKey.key_hash).where(SystemApiKey.revoked_at.is_(None))


class LicenseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def ending_between(self, first: dt.date, last: dt.date) -> Sequence[License]:
        """Active licenses whose last valid day lies in [first, last]."""
        rows = await self.session.scalars(
            select(License)
            .where(
                License.is_active.is_(True),
                License.valid_until.is_not(None),
                License.valid_until >= first,
                License.valid_until <= last,
            )
            .order_by(License.valid_until, License.id)
            .limit(5000)
        )
        return rows.all()

    async def get(self, license_id: int) -> License | None:
        return await self.session.scalar(
            select(License).options(joinedload(License.customer)).where(License.id == license_id)
        )

    async def get_by_key(self, license_key: str) -> License | None:
        return await self.session.scalar(
            select(License)
            .options(joinedload(License.customer))
            .where(License.license_key == license_key)
        )

    async def key_exists(self, license_key: str) -> bool:
        found = await self.session.scalar(
            select(License.id).where(License.license_key == license_key)
        )
        return found is not None

    async def add(self, license: License) -> License:
        self.session.add(license)
        await self.session.flush()
        return license

    async def lock(self, license_id: int) -> License | None:
        """Serialise seat and session changes of one license until the transaction ends.

        A no-op UPDATE takes the row lock on PostgreSQL and the write lock on SQLite alike;
        the license is then read fresh, after whoever held the lock has committed.
        """
        await self.session.execute(
            update(License)
            .where(License.id == license_id)
            .values(is_active=License.is_active, updated_at=License.updated_at)
            .execution_options(synchronize_session=False)
        )
        return await self.session.scalar(
            select(License)
            .options(joinedload(License.customer))
            .where(License.id == license_id)
            .execution_options(populate_existing=True)
        )

    async def device_row(self, license_key: str, hardware_hash: str) -> DeviceRow | None:
        """The license and this device's activation (`LICENSE_DEVICE`)."""
        row = (
            await self.session.execute(
                LICENSE_DEVICE, {"license_key": license_key, "hardware_hash": hardware_hash}
            )
        ).first()
        return None if row is None else DeviceRow(*tuple(row))

    async def list(
        self,
        *,
        query: str | None,
        customer_id: int | None,
        is_active: bool | None,
        license_type: str | None,
        offset: int,
        limit: int,
        expiring_between: tuple[dt.date, dt.date] | None = None,
    ) -> tuple[Sequence[License], int]:
        conditions = []
        if query:
            pattern = contains(query)
            conditions.append(
                or_(
                    func.lower(License.license_key).like(pattern, escape="\\"),
                    func.lower(Customer.name).like(pattern, escape="\\"),
                    func.lower(Customer.email).like(pattern, escape="\\"),
                )
            )
        if customer_id is not None:
            conditions.append(License.customer_id == customer_id)
        if is_active is not None:
            conditions.append(License.is_active.is_(is_active))
        if license_type is not None:
            conditions.append(License.license_type == license_type)
        if expiring_between is not None:
            conditions.append(License.valid_until.between(*expiring_between))
        base = select(License).join(Customer, Customer.id == License.customer_id).where(*conditions)
        # Every license has its customer (a required foreign key): without a search term the
        # count needs no join (on SQLite, counting the join read every license and customer).
        counted = base if query else select(License).where(*conditions)
        total = await self.session.scalar(select(func.count()).select_from(counted.subquery()))
        rows = await self.session.scalars(
            base.options(joinedload(License.customer))
            .order_by(License.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return rows.all(), int(total or 0)

    async def expiring(
        self, first: dt.date, last: dt.date, *, limit: int
    ) -> tuple[Sequence[License], int]:
        """Active licenses whose last day is from `first` to `last`, the soonest first."""
        statement = select(License).where(
            License.is_active.is_(True), License.valid_until.between(first, last)
        )
        total = await self.session.scalar(select(func.count()).select_from(statement.subquery()))
        rows = await self.session.scalars(
            statement.options(joinedload(License.customer))
            .order_by(License.valid_until, License.id)
            .limit(limit)
        )
        return rows.all(), int(total or 0)

    async def existing_ids(self, license_ids: Sequence[int]) -> set[int]:
        rows = await self.session.scalars(select(License.id).where(License.id.in_(license_ids)))
        return set(rows.all())

    async def ids_for_customer(self, customer_id: int) -> Sequence[int]:
        rows = await self.session.scalars(
            select(License.id).where(License.customer_id == customer_id)
        )
        return rows.all()

    async def set_active(self, license_ids: Sequence[int], is_active: bool) -> int:
        result = await self.session.execute(
            update(License)
            .where(License.id.in_(license_ids), License.is_active.is_not(is_active))
            .values(is_active=is_active)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def delete_many(self, license_ids: Sequence[int]) -> int:
        # Devices and sessions go with the license (ON DELETE CASCADE).
        await self.session.execute(
            delete(LicenseSession).where(LicenseSession.license_id.in_(license_ids))
        )
        await self.session.execute(
            delete(LicenseActivation).where(LicenseActivation.license_id.in_(license_ids))
        )
        result = await self.session.execute(
            delete(License)
            .where(License.id.in_(license_ids))
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def counts_by_state(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(License.is_active, func.count()).group_by(License.is_active)
        )
        counts = {"active": 0, "inactive": 0}
        for is_active, count in rows.tuples():
            counts["active" if is_active else "inactive"] = int(count)
        return counts

    @staticmethod
    def _search_ids(
        query: str, index: TableClause | None, *, newest: int | None = None
    ) -> CompoundSelect[tuple[int]]:
        """Ids of the licenses whose key or customer name contains `query` (with `newest`: each
        half's `newest` highest ids, which include the `newest` highest matches of all).

        A UNION of the two halves rather than one OR over the join, so that each half is
        answered from its index: pg_trgm's on PostgreSQL (migration 0950), the keys' trigram
        search table on SQLite (`index`, migration 1930)."""
        halves = [
            select(License.id).where(contains_any(License.id, [License.license_key], query, index)),
            select(License.id)
            .join(Customer, Customer.id == License.customer_id)
            .where(Customer.name.ilike(contains(query), escape="\\")),
        ]
        if newest is not None:
            # Each half stops at its own newest matches: a short, common term then reads a few
            # rows from the end of the primary key instead of every match.
            halves = [
                select(half.order_by(License.id.desc()).limit(newest).subquery().c.id)
                for half in halves
            ]
        return union(*halves)

    async def search(self, query: str, *, limit: int) -> Sequence[License]:
        index = await search_index(self.session, LICENSES_SEARCH)
        rows = await self.session.scalars(
            select(License)
            .options(joinedload(License.customer))
            .where(License.id.in_(self._search_ids(query, index, newest=limit)))
            .order_by(License.id.desc())
            .limit(limit)
        )
        return rows.all()

    async def count_search(self, query: str) -> int:
        index = await search_index(self.session, LICENSES_SEARCH)
        matches = self._search_ids(query, index).subquery()
        return int(await self.session.scalar(select(func.count()).select_from(matches)) or 0)


class ActivationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def silent_since(self, cutoff: dt.datetime, *, limit: int) -> list[tuple[int, int]]:
        """(license id, device id) of active devices not heard from since `cutoff`."""
        rows = await self.session.execute(
            select(LicenseActivation.license_id, LicenseActivation.id)
            .where(LicenseActivation.is_active.is_(True), LicenseActivation.last_heartbeat < cutoff)
            .order_by(LicenseActivation.last_heartbeat)
            .limit(limit)
        )
        return [(int(license_id), int(device_id)) for license_id, device_id in rows.all()]

    async def get_for_hardware(
        self, license_id: int, hardware_hash: str
    ) -> LicenseActivation | None:
        return await self.session.scalar(
            select(LicenseActivation)
            .where(
                LicenseActivation.license_id == license_id,
                LicenseActivation.hardware_hash == hardware_hash,
            )
            .execution_options(populate_existing=True)
        )

    async def get(self, license_id: int, activation_id: int) -> LicenseActivation | None:
        return await self.session.scalar(
            select(LicenseActivation).where(
                LicenseActivation.license_id == license_id, LicenseActivation.id == activation_id
            )
        )

    async def per_day(
        self, *, since: dt.datetime, license_id: int | None = None
    ) -> dict[dt.date, int]:
        """Activations per UTC day since `since` (days without any are absent)."""
        conditions = [LicenseActivation.activated_at >= since]
        if license_id is not None:
            conditions.append(LicenseActivation.license_id == license_id)
        rows = await self.session.scalars(select(LicenseActivation.activated_at).where(*conditions))
        counts: dict[dt.date, int] = {}
        # Counted here, not in SQL: date functions differ between SQLite and PostgreSQL.
        for at in rows.all():
            day = (at if at.tzinfo is None else at.astimezone(dt.UTC)).date()
            counts[day] = counts.get(day, 0) + 1
        return counts

    async def list_for_license(self, license_id: int) -> Sequence[LicenseActivation]:
        rows = await self.session.scalars(
            select(LicenseActivation)
            .where(LicenseActivation.license_id == license_id)
            .order_by(LicenseActivation.id)
        )
        return rows.all()

    async def count_active(self, license_id: int) -> int:
        return int(
            await self.session.scalar(
                select(func.count())
                .select_from(LicenseActivation)
                .where(
                    LicenseActivation.license_id == license_id,
                    LicenseActivation.is_active.is_(True),
                )
            )
            or 0
        )

    async def active_counts(self, license_ids: Sequence[int]) -> dict[int, int]:
        if not license_ids:
            return {}
        rows = await self.session.execute(
            select(LicenseActivation.license_id, func.count())
            .where(
                LicenseActivation.license_id.in_(license_ids),
                LicenseActivation.is_active.is_(True),
            )
            .group_by(LicenseActivation.license_id)
        )
        return {license_id: int(count) for license_id, count in rows.tuples()}

    async def add(self, activation: LicenseActivation) -> LicenseActivation:
        self.session.add(activation)
        await self.session.flush()
        return activation

    async def touch(self, activation_id: int, at: dt.datetime) -> None:
        await self.session.execute(TOUCH_ACTIVATION, {"b_id": activation_id, "b_at": at})

    async def touch_hardware(
        self, license_id: int, hardware_hash: str, *, at: dt.datetime, older_than: dt.datetime
    ) -> None:
        """Refresh the device's last_heartbeat, writing only when it is stale."""
        await self.session.execute(
            TOUCH_DEVICE,
            {
                "b_license": license_id,
                "b_hardware": hardware_hash,
                "b_at": at,
                "b_older": older_than,
            },
        )

    def _matching(self, query: str, index: TableClause | None) -> ColumnElement[bool]:
        """Devices whose hardware hash or machine name contains `query` (from the devices'
        trigram search table on SQLite, `index`; migration 1930)."""
        columns = [LicenseActivation.hardware_hash, LicenseActivation.machine_name]
        return contains_any(LicenseActivation.id, columns, query, index)

    async def search(self, query: str, *, limit: int) -> Sequence[tuple[LicenseActivation, str]]:
        index = await search_index(self.session, DEVICES_SEARCH)
        rows = await self.session.execute(
            select(LicenseActivation, License.license_key)
            .join(License, License.id == LicenseActivation.license_id)
            .where(self._matching(query, index))
            .order_by(LicenseActivation.id.desc())
            .limit(limit)
        )
        return [(activation, key) for activation, key in rows.tuples()]

    async def count_search(self, query: str) -> int:
        index = await search_index(self.session, DEVICES_SEARCH)
        return int(
            await self.session.scalar(
                select(func.count())
                .select_from(LicenseActivation)
                .where(self._matching(query, index))
            )
            or 0
        )


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, license_session: LicenseSession) -> LicenseSession:
        self.session.add(license_session)
        await self.session.flush()
        return license_session

    async def row_by_token(self, token_hash: str) -> SessionRow | None:
        """The session with its license key and client settings (`SESSION_BY_TOKEN`)."""
        row = (await self.session.execute(SESSION_BY_TOKEN, {"token_hash": token_hash})).first()
        return None if row is None else SessionRow(*row._tuple())

    async def set_heartbeat(self, session_id: int, at: dt.datetime) -> None:
        await self.session.execute(TOUCH_SESSION, {"b_id": session_id, "b_at": at})

    async def end_one(self, session_id: int, *, now: dt.datetime, reason: str) -> None:
        await self.session.execute(
            update(LicenseSession)
            .where(LicenseSession.id == session_id, LicenseSession.ended_at.is_(None))
            .values(ended_at=now, end_reason=reason)
            .execution_options(synchronize_session=False)
        )

    async def get_by_token_hash(self, token_hash: str) -> LicenseSession | None:
        return await self.session.scalar(
            select(LicenseSession).where(LicenseSession.token_hash == token_hash)
        )

    async def recent_for_license(self, license_id: int, *, limit: int) -> Sequence[LicenseSession]:
        rows = await self.session.scalars(
            select(LicenseSession)
            .where(LicenseSession.license_id == license_id)
            .order_by(LicenseSession.started_at.desc(), LicenseSession.id.desc())
            .limit(limit)
        )
        return rows.all()

    async def open_for_license(self, license_id: int) -> Sequence[LicenseSession]:
        rows = await self.session.scalars(
            select(LicenseSession)
            .where(LicenseSession.license_id == license_id, LicenseSession.ended_at.is_(None))
            .execution_options(populate_existing=True)
        )
        return rows.all()

    async def end_stale(
        self,
        *,
        client_config_id: int,
        older_than: dt.datetime,
        now: dt.datetime,
        license_id: int | None = None,
    ) -> int:
        conditions = [
            LicenseSession.client_config_id == client_config_id,
            LicenseSession.ended_at.is_(None),
            LicenseSession.last_heartbeat < older_than,
        ]
        if license_id is not None:
            conditions.append(LicenseSession.license_id == license_id)
        result = await self.session.execute(
            update(LicenseSession)
            .where(*conditions)
            .values(ended_at=now, end_reason="timeout")
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def end_for_licenses(
        self, license_ids: Sequence[int], *, now: dt.datetime, reason: str
    ) -> int:
        result = await self.session.execute(
            update(LicenseSession)
            .where(LicenseSession.license_id.in_(license_ids), LicenseSession.ended_at.is_(None))
            .values(ended_at=now, end_reason=reason)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def end_for_device(
        self, license_id: int, hardware_hash: str, *, now: dt.datetime, reason: str
    ) -> int:
        result = await self.session.execute(
            update(LicenseSession)
            .where(
                LicenseSession.license_id == license_id,
                LicenseSession.hardware_hash == hardware_hash,
                LicenseSession.ended_at.is_(None),
            )
            .values(ended_at=now, end_reason=reason)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def count_open(self) -> int:
        return int(
            await self.session.scalar(
                select(func.count())
                .select_from(LicenseSession)
                .where(LicenseSession.ended_at.is_(None))
            )
            or 0
        )


class ClientConfigRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, config_id: int) -> ClientConfig | None:
        return await self.session.get(ClientConfig, config_id)

    async def get_by_name(self, name: str) -> ClientConfig | None:
        return await self.session.scalar(
            select(ClientConfig).where(func.lower(ClientConfig.name) == name.lower())
        )

    async def all(self) -> Sequence[ClientConfig]:
        return (await self.session.scalars(select(ClientConfig).order_by(ClientConfig.id))).all()

    async def list(self, *, offset: int, limit: int) -> tuple[Sequence[ClientConfig], int]:
        total = await self.session.scalar(select(func.count()).select_from(ClientConfig))
        rows = await self.session.scalars(
            select(ClientConfig).order_by(ClientConfig.id).offset(offset).limit(limit)
        )
        return rows.all(), int(total or 0)

    async def add(self, config: ClientConfig) -> ClientConfig:
        self.session.add(config)
        await self.session.flush()
        return config

    async def delete(self, config: ClientConfig) -> None:
        await self.session.delete(config)
        await self.session.flush()


class ReleaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, release_id: int) -> Release | None:
        return await self.session.get(Release, release_id)

    async def get_version(self, channel: str, version: str) -> Release | None:
        return await self.session.scalar(
            select(Release).where(Release.channel == channel, Release.version == version)
        )

    async def for_channel(self, channel: str) -> Sequence[Release]:
        return (await self.session.scalars(select(Release).where(Release.channel == channel))).all()

    async def list(
        self, *, channel: str | None, offset: int, limit: int
    ) -> tuple[Sequence[Release], int]:
        conditions = [] if channel is None else [Release.channel == channel]
        total = await self.session.scalar(
            select(func.count()).select_from(Release).where(*conditions)
        )
        rows = await self.session.scalars(
            select(Release)
            .where(*conditions)
            .order_by(Release.release_date.desc(), Release.id.desc())
            .offset(offset)
            .limit(limit)
        )
        return rows.all(), int(total or 0)

    async def add(self, release: Release) -> Release:
        self.session.add(release)
        await self.session.flush()
        return release

    async def delete(self, release: Release) -> None:
        await self.session.delete(release)
        await self.session.flush()

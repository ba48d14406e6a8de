"""The global search on its trigram indexes (migration 0950): the same results as the
`lower(column) LIKE` it replaced, on both databases, and on PostgreSQL the indexes exist and
the search's statements can use them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import event, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.kit.query import contains
from stellwerk.models import Customer, LeadInstitution, License, LicenseActivation
from stellwerk.runtime import Runtime
from stellwerk.search.service import search
from tests.test_migrations import TRIGRAM_INDEXES

KINDS = ["customer", "license", "device", "lead"]
QUERIES = [
    "acme",
    "ACME",
    "Corp",
    "müller",
    "100%",
    "under_sc",
    "_",
    "%",
    "back\\sl",
    "-",
    "ab",
    "pc-1",
    "deadbeef",
    "K3Y9",
    "institute",
    "zz-nothing",
]


async def _seed(runtime: Runtime) -> None:
    names = [
        ("ACME Corp", "admin@acme.com"),
        ("Müller GmbH", "info@mueller.de"),
        ("100% Natural", None),
        ("under_score Ltd", "a_b@example.com"),
        ("back\\slash Inc", "bs@example.com"),
        ("Abbey Road", "abbey@example.org"),
    ]
    async with runtime.database.session() as session:
        customers = [Customer(name=name, email=email) for name, email in names]
        session.add_all(customers)
        await session.flush()
        licenses = [
            License(
                license_key=f"{prefix}-{number:04d}-ABCD-EFGH",
                customer_id=customers[number % len(customers)].id,
                valid_from=dt.date(2026, 1, 1),
            )
            for number, prefix in enumerate(["K3Y9", "ACME", "ZZ12", "PC10", "AB_C", "K3Y9"] * 3)
        ]
        licenses[-1].license_key = "K3Y8-9999-ABCD-EFGH"
        session.add_all(licenses)
        await session.flush()
        session.add_all(
            LicenseActivation(
                license_id=lic.id,
                hardware_hash=("deadbeef" if number % 4 == 0 else "cafe") + f"{number:060x}",
                machine_name=[f"PC-{number}", f"ACME-desktop-{number}", None][number % 3],
            )
            for number, lic in enumerate(licenses)
        )
        session.add_all(
            LeadInstitution(name=name)
            for name in ["Acme Institute", "Institute of Müller", "100% Institute", "Abbey"]
        )


async def _previous_search(session: AsyncSession, query: str) -> tuple[set[tuple[str, int]], int]:
    """What the search matched before migration 0950: `lower(column) LIKE` per kind."""
    pattern = contains(query)

    def like(column: Any) -> Any:
        return func.lower(column).like(pattern, escape="\\")

    found: set[tuple[str, int]] = set()
    kinds = [
        ("customer", select(Customer.id).where(or_(like(Customer.name), like(Customer.email)))),
        (
            "license",
            select(License.id)
            .join(Customer, Customer.id == License.customer_id)
            .where(or_(like(License.license_key), like(Customer.name))),
        ),
        (
            "device",
            select(LicenseActivation.id).where(
                or_(like(LicenseActivation.hardware_hash), like(LicenseActivation.machine_name))
            ),
        ),
        ("lead", select(LeadInstitution.id).where(like(LeadInstitution.name))),
    ]
    for kind, statement in kinds:
        found |= {(kind, row_id) for row_id in (await session.scalars(statement)).all()}
    return found, len(found)


async def test_search_matches_what_it_matched_before(runtime: Runtime) -> None:
    await _seed(runtime)
    async with runtime.database.session() as session:
        for query in QUERIES:
            results, total = await search.search(session, query, kinds=KINDS, limit=100)
            expected, expected_total = await _previous_search(session, query)
            assert {(r.type, r.id) for r in results} == expected, query
            assert total == expected_total, query


async def test_license_results_are_the_newest_matches(runtime: Runtime) -> None:
    """A limit below the matches: the newest licenses matching either the key or the
    customer, in order."""
    await _seed(runtime)
    async with runtime.database.session() as session:
        everything, _ = await search.search(session, "acme", kinds=["license"], limit=100)
        ids = [r.id for r in everything]
        assert ids == sorted(ids, reverse=True)
        assert len(ids) > 4
        for limit in (1, 2, 3, 4):
            first, total = await search.search(session, "acme", kinds=["license"], limit=limit)
            assert [r.id for r in first] == ids[:limit]
            assert total == len(ids)


async def _statements_of(runtime: Runtime, query: str, kinds: list[str]) -> list[tuple[str, Any]]:
    """The SQL (and its parameters) one search runs."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    engine = runtime.database.engine
    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with runtime.database.session() as session:
            await search.search(session, query, kinds=kinds, limit=20)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    return statements


async def test_trigram_indexes_exist_and_are_used(runtime: Runtime) -> None:
    if runtime.database.dialect != "postgresql":
        pytest.skip("trigram indexes are PostgreSQL's")
    await _seed(runtime)
    engine = runtime.database.engine
    async with engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE '%\\_trgm'")
        )
        definitions = dict(rows.tuples().all())
    assert set(definitions) == TRIGRAM_INDEXES
    assert all("USING gin" in d and "gin_trgm_ops" in d for d in definitions.values())

    statements = await _statements_of(runtime, "acme corp", KINDS)
    plans = []
    async with engine.connect() as connection:
        # The tables are tiny: forbid sequential scans to see which indexes the SQL can use.
        await connection.execute(text("SET LOCAL enable_seqscan = off"))
        for statement, parameters in statements:
            plan = await connection.exec_driver_sql("EXPLAIN " + statement, parameters)
            plans.append("\n".join(row[0] for row in plan))
        await connection.rollback()
    used = {name for name in TRIGRAM_INDEXES if any(name in plan for plan in plans)}
    assert used == TRIGRAM_INDEXES, "\n\n".join(plans)


async def test_sqlite_search_tables_are_used_and_follow_their_rows(runtime: Runtime) -> None:
    """On SQLite the license and device halves come from the trigram search tables (migration
    1930), which follow every insert, change and delete of the searched columns."""
    if runtime.database.dialect != "sqlite":
        pytest.skip("the search tables are SQLite's")
    await _seed(runtime)
    engine = runtime.database.engine
    statements = await _statements_of(runtime, "deadbeef", ["license", "device"])
    async with engine.connect() as connection:
        plans = [
            "\n".join(
                str(row[-1])
                for row in await connection.exec_driver_sql(
                    "EXPLAIN QUERY PLAN " + statement, parameters
                )
            )
            for statement, parameters in statements
            if "_search" in statement
        ]
    joined = "\n".join(plans)
    assert "licenses_search VIRTUAL TABLE INDEX" in joined, joined
    assert "license_activations_search VIRTUAL TABLE INDEX" in joined, joined
    assert "SCAN license_activations\n" not in joined + "\n", joined

    async def found(query: str) -> set[tuple[str, int]]:
        async with runtime.database.session() as session:
            results, _ = await search.search(session, query, kinds=["license", "device"], limit=100)
        return {(r.type, r.id) for r in results}

    async with runtime.database.session() as session:
        device = (
            await session.scalars(
                select(LicenseActivation).where(LicenseActivation.machine_name == "PC-0")
            )
        ).one()
        lic = await session.get(License, device.license_id)
        assert lic is not None
        assert ("device", device.id) in await found("pc-0")
        device.machine_name = "Renamed-Box"
        device.last_heartbeat = dt.datetime.now(dt.UTC)  # a column the search does not index
        lic.license_key = "NEWK-0000-ABCD-EFGH"
    assert ("device", device.id) not in await found("pc-0")
    assert ("device", device.id) in await found("RENAMED-box")
    assert ("license", lic.id) in await found("newk-0000")
    async with runtime.database.session() as session:
        await session.delete(await session.get(LicenseActivation, device.id))
    assert ("device", device.id) not in await found("renamed-box")

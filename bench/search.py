"""Global search latency on PostgreSQL with many licenses (the admin panel's search box).

Creates a scratch database `stellwerk_bench_search` on 127.0.0.1:5432 (user postgres), migrates
it, seeds it with the license benchmark's data (100,000 licenses of 1,000 customers, two devices
each: `bench/license_verify/run.py`) plus 10,000 lead institutions, then calls the search
service the way `GET /api/global-search?q=…&limit=20` does (all four kinds: customers,
licenses, devices, leads; each call its own session) for a few queries and prints the median
and maximum of N calls per query. Each query's statements are then run once more under
`EXPLAIN ANALYZE`; the script prints which indexes they used and which tables they scanned
(`--plans` prints the whole plans). The database is dropped at the end.

`--without-trigram-indexes` drops the trigram indexes of the search migration (0950) before
measuring: the same SQL without them. To time the code before 0950, run the script with the old
`src` first on `PYTHONPATH` (`git archive <commit> src | tar -x -C /tmp/old`).

    .venv/bin/python bench/search.py            # 100,000 licenses, 20 calls per query
    .venv/bin/python bench/search.py --short    # 2,000 licenses, 3 calls per query
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import re
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent / "load"))

import loadkit  # bench/load/loadkit.py, found through the line above

from stellwerk.search.service import search

PG = "postgresql://postgres@127.0.0.1:5432"
KINDS = ["customer", "license", "device", "lead"]
LEAD_WORDS = ["University", "Institute", "Clinic", "Labs", "Systems", "Works", "College"]


DATABASE = "stellwerk_bench_search"


async def seed_leads(database: str, count: int) -> None:
    rng = random.Random(7)
    now = dt.datetime.now(dt.UTC)
    connection = await asyncpg.connect(f"{PG}/{database}")
    try:
        await connection.copy_records_to_table(
            "lead_institutions",
            columns=["name", "institution_type", "status", "created_at", "updated_at"],
            records=[
                (f"{rng.choice(LEAD_WORDS)} {number}", "company", "new", now, now)
                for number in range(count)
            ],
        )
        await connection.execute("VACUUM ANALYZE lead_institutions")
    finally:
        await connection.close()


async def drop_trigram_indexes(database: str) -> None:
    names = await trigram_indexes(database)  # whatever migration 0950 made here
    connection = await asyncpg.connect(f"{PG}/{database}")
    try:
        for name in names:
            await connection.execute(f'DROP INDEX IF EXISTS "{name}"')
    finally:
        await connection.close()


async def trigram_indexes(database: str) -> list[str]:
    connection = await asyncpg.connect(f"{PG}/{database}")
    try:
        rows = await connection.fetch(
            "SELECT indexname FROM pg_indexes WHERE indexdef LIKE '%gin_trgm_ops%' ORDER BY 1"
        )
    finally:
        await connection.close()
    return [row["indexname"] for row in rows]


async def one_search(engine: AsyncEngine, query: str) -> tuple[float, int]:
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    started = time.perf_counter()
    async with sessions() as session:
        _, total = await search.search(session, query, kinds=KINDS, limit=20)
    return (time.perf_counter() - started) * 1000, total


async def explain(engine: AsyncEngine, query: str) -> list[str]:
    """Every statement one search runs, under EXPLAIN ANALYZE."""
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await one_search(engine, query)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    plans = []
    async with engine.connect() as connection:
        for statement, parameters in statements:
            result = await connection.exec_driver_sql(
                "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + statement, parameters
            )
            plans.append("\n".join(row[0] for row in result))
    return plans


def summary(plans: Sequence[str]) -> str:
    text = "\n".join(plans)
    indexes = sorted(set(re.findall(r"Index (?:Only )?Scan (?:Backward )?using (\w+)", text)))
    indexes = sorted(set(indexes) | set(re.findall(r"Bitmap Index Scan on (\w+)", text)))
    scans = sorted(set(re.findall(r"Seq Scan on (\w+)", text)))
    return f"indexes: {', '.join(indexes) or '-'}; seq scans: {', '.join(scans) or '-'}"


async def measure(database: str, queries: list[tuple[str, str]], calls: int, plans: bool) -> None:
    engine = create_async_engine(f"postgresql+asyncpg://postgres@127.0.0.1:5432/{database}")
    try:
        for _ in range(3):  # warm the cache and the connection pool
            await one_search(engine, queries[0][1])
        print(f"\n{'query':<34} {'total':>7} {'median ms':>10} {'max ms':>8}")
        for label, query in queries:
            times = []
            total = 0
            for _ in range(calls):
                elapsed, total = await one_search(engine, query)
                times.append(elapsed)
            shown = f"{label} {query!r}"
            print(f"{shown:<34} {total:>7,} {statistics.median(times):>10.1f} {max(times):>8.1f}")
        print()
        for label, query in queries:
            explained = await explain(engine, query)
            print(f"EXPLAIN {label}: {summary(explained)}")
            if plans:
                for plan in explained:
                    print("    " + plan.replace("\n", "\n    "))
    finally:
        await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="2,000 licenses, 3 calls")
    parser.add_argument("--calls", type=int, help="calls per query (default 20, short 3)")
    parser.add_argument("--plans", action="store_true", help="print every plan")
    parser.add_argument(
        "--without-trigram-indexes", action="store_true", help="drop the trigram indexes first"
    )
    parser.add_argument("--database", default=DATABASE, help="the scratch database's name")
    options = parser.parse_args()
    database: str = options.database
    licenses = 2_000 if options.short else 100_000
    calls = options.calls or (3 if options.short else 20)
    started = time.monotonic()
    keys = loadkit.create_database(database, licenses, 0)
    try:
        asyncio.run(seed_leads(database, licenses // 10))
        if options.without_trigram_indexes:
            asyncio.run(drop_trigram_indexes(database))
        present = asyncio.run(trigram_indexes(database))
        print(
            f"database {database}: {licenses:,} licenses, {2 * licenses:,} devices, 1,000"
            f" customers, {licenses // 10:,} leads (seeded in {time.monotonic() - started:.0f} s)"
        )
        print(f"trigram indexes: {', '.join(present) or 'none'}")
        queries = [
            ("customer name", "Customer 42"),
            ("license key part", keys[1234][:7]),
            ("device hash part", loadkit.hardware(77, 0)[:10]),
            ("machine name", "PC-1042-"),
            ("lead name", "Clinic 77"),
            ("no match", "zz-nothing"),
            ("two characters", "42"),
        ]
        asyncio.run(measure(database, queries, calls, options.plans))
    finally:
        loadkit.drop_database(database)
    return 0


if __name__ == "__main__":
    sys.exit(main())

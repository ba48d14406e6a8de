"""Stats latency with many hits stored: the API reads only the daily rollups, so the size of
`redirect_hits` must not matter. Fills a scratch SQLite database, then times each stats query.

    .venv/bin/python bench/redirect/stats.py                    # 10 million hits
    .venv/bin/python bench/redirect/stats.py --short            # 200 000 hits (a smoke check)
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from stellwerk import migrate
from stellwerk.database import Database
from stellwerk.redirect import service

DOMAINS = 1000
DAYS = 365
COUNTRIES = ["DE", "AT", "CH", "US", "FR", "NL", None]


def fill(path: Path, hits: int) -> None:
    now_ms = int(time.time() * 1000)
    rng = random.Random(42)
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO users (id, username, password_hash, role, is_active,"
            " credential_generation, created_at, updated_at)"
            " VALUES (1, 'bench', 'x', 'admin', 1, 1, '2026-01-01', '2026-01-01')"
        )
        db.executemany(
            "INSERT INTO redirect_domains (id, owner_id, domain, target_url, redirect_code,"
            " preserve_path, include_www, status, total_hits, created_at, updated_at)"
            " VALUES (?, 1, ?, 'https://t.example', 301, 1, 1, 'active', 0,"
            " '2026-01-01', '2026-01-01')",
            [(i, f"d{i}.example") for i in range(1, DOMAINS + 1)],
        )
        hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(50_000)]
        chunk = 200_000
        for start in range(0, hits, chunk):
            rows = []
            for _ in range(min(chunk, hits - start)):
                # Skewed: a few busy domains, most quiet, a tenth never hit.
                domain = min(int(rng.paretovariate(1.2)), DOMAINS - DOMAINS // 10)
                ts = now_ms - rng.randrange(DAYS * 86_400_000)
                rows.append(
                    (
                        domain,
                        f"d{domain}.example",
                        ts,
                        rng.choice(hashes),
                        rng.choice(COUNTRIES),
                        "Mozilla/5.0",
                        None,
                        "/",
                        0,
                    )
                )
            db.executemany(
                "INSERT INTO redirect_hits (domain_id, host, ts, ip_hash, country, user_agent,"
                " referer, path, is_bot) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.commit()
        # The rollups the hit writer maintains, built here in one pass.
        day = "date(ts / 1000, 'unixepoch')"
        db.execute(
            "INSERT INTO redirect_daily_totals (domain_id, day, hits, visitors)"
            f" SELECT domain_id, {day}, count(*), count(DISTINCT ip_hash) FROM redirect_hits"
            f" GROUP BY domain_id, {day}"
        )
        db.execute(
            "INSERT INTO redirect_daily_countries (domain_id, day, country, hits)"
            f" SELECT domain_id, {day}, coalesce(country, ''), count(*) FROM redirect_hits"
            f" GROUP BY domain_id, {day}, coalesce(country, '')"
        )
        db.execute(
            "INSERT INTO redirect_owner_daily_countries (owner_id, day, country, hits)"
            f" SELECT 1, {day}, coalesce(country, ''), count(*) FROM redirect_hits"
            f" GROUP BY {day}, coalesce(country, '')"
        )
        db.commit()


async def measure(url: str, repeats: int) -> list[tuple[str, float, float]]:
    database = Database(url)
    results = []
    calls = {
        "domain stats, busiest, days=30": {
            "domain_ids": [1],
            "owner_id": None,
            "days": 30,
            "with_top": False,
        },
        "domain stats, busiest, days=365": {
            "domain_ids": [1],
            "owner_id": None,
            "days": 365,
            "with_top": False,
        },
        "domain stats, quiet, days=90": {
            "domain_ids": [500],
            "owner_id": None,
            "days": 90,
            "with_top": False,
        },
        "summary (1000 domains), days=90": {
            "domain_ids": None,
            "owner_id": None,
            "days": 90,
            "with_top": True,
        },
        "summary (1000 domains), days=365": {
            "domain_ids": None,
            "owner_id": None,
            "days": 365,
            "with_top": True,
        },
    }
    for name, options in calls.items():
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            async with database.session() as session:
                await service.stats.for_domains(session, **options)  # type: ignore[arg-type]
            timings.append((time.perf_counter() - started) * 1000)
        results.append((name, statistics.median(timings), max(timings)))
    await database.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hits", type=int, default=10_000_000)
    parser.add_argument("--short", action="store_true")
    args = parser.parse_args()
    hits = 200_000 if args.short else args.hits
    with tempfile.TemporaryDirectory(prefix="bench-stats-") as scratch:
        path = Path(scratch) / "stats.sqlite"
        url = f"sqlite+aiosqlite:///{path}"
        migrate.upgrade(url)
        started = time.perf_counter()
        fill(path, hits)
        print(f"{hits:,} hits stored in {time.perf_counter() - started:.0f} s\n")
        print("| call | median ms | max ms |")
        print("|---|---|---|")
        for name, median_ms, max_ms in asyncio.run(measure(url, 20)):
            print(f"| {name} | {median_ms:.1f} | {max_ms:.1f} |")


if __name__ == "__main__":
    main()

"""Stats latency with many hits stored: the API reads only the rollups, so the size of
`redirect_hits` must not matter. Fills a scratch SQLite database (hits with bots, referrers, paths
and user agents; half the domains in one group), builds every rollup the hit writer keeps, then
times each stats call (the whole call, as the API makes it).

    .venv/bin/python bench/redirect/stats.py                    # 10 million hits
    .venv/bin/python bench/redirect/stats.py --short            # 200 000 hits (a smoke check)
    .venv/bin/python bench/redirect/stats.py --db /tmp/s.sqlite # fill once, measure again later
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from stellwerk import migrate
from stellwerk.database import Database
from stellwerk.redirect import analytics, service

DOMAINS = 1000
GROUPED = DOMAINS // 2  # domains 1..500 are in group 1
DAYS = 365
COUNTRIES = ["DE", "AT", "CH", "US", "FR", "NL", None]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.1 "
    "Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 Chrome/119.0 Mobile "
    "Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "curl/8.4.0",
]
REFERERS = [None] * 10 + [f"https://www.site{i}.example/page" for i in range(30)]
PATHS = ["/"] * 20 + [f"/section{i}/page" for i in range(50)]


def fill(path: Path, hits: int) -> None:
    now_ms = int(time.time() * 1000)
    rng = random.Random(42)
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO users (id, username, password_hash, role, is_active,"
            " credential_generation, created_at, updated_at)"
            " VALUES (1, 'bench', 'x', 'admin', 1, 1, '2026-01-01', '2026-01-01')"
        )
        db.execute(
            "INSERT INTO redirect_groups (id, owner_id, name, color, created_at, updated_at)"
            " VALUES (1, 1, 'half', '#4f6d7a', '2026-01-01', '2026-01-01')"
        )
        db.executemany(
            "INSERT INTO redirect_domains (id, owner_id, domain, target_url, redirect_code,"
            " preserve_path, include_www, status, total_hits, bot_hits, group_id, created_at,"
            " updated_at) VALUES (?, 1, ?, 'https://t.example', 301, 1, 1, 'active', 0, 0, ?,"
            " '2026-01-01', '2026-01-01')",
            [(i, f"d{i}.example", 1 if i <= GROUPED else None) for i in range(1, DOMAINS + 1)],
        )
        # What the hit writer derives from each agent and referrer, as lookup tables.
        db.execute("CREATE TEMP TABLE agents (ua TEXT, browser TEXT, os TEXT, device TEXT)")
        db.executemany(
            "INSERT INTO agents VALUES (?, ?, ?, ?)",
            [(ua, *analytics.agent(ua)) for ua in AGENTS],
        )
        db.execute("CREATE TEMP TABLE referers (referer TEXT, host TEXT)")
        db.executemany(
            "INSERT INTO referers VALUES (?, ?)",
            [(r, analytics.referrer_host(r)) for r in REFERERS if r],
        )
        hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(50_000)]
        chunk = 200_000
        for start in range(0, hits, chunk):
            rows = []
            for _ in range(min(chunk, hits - start)):
                # Skewed: a few busy domains, most quiet, a tenth never hit.
                domain = min(int(rng.paretovariate(1.2)), DOMAINS - DOMAINS // 10)
                ts = now_ms - rng.randrange(DAYS * 86_400_000)
                agent = rng.choice(AGENTS)
                rows.append(
                    (
                        domain,
                        f"d{domain}.example",
                        ts,
                        rng.choice(hashes),
                        rng.choice(COUNTRIES),
                        agent,
                        rng.choice(REFERERS),
                        rng.choice(PATHS),
                        1 if analytics.agent(agent).device == "bot" or agent == AGENTS[-1] else 0,
                    )
                )
            db.executemany(
                "INSERT INTO redirect_hits (domain_id, host, ts, ip_hash, country, user_agent,"
                " referer, path, is_bot) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.commit()
        # The rollups the hit writer maintains, built here in one pass each.
        day = "date(ts / 1000, 'unixepoch')"
        db.execute(
            "INSERT INTO redirect_daily_totals (domain_id, day, hits, bots, visitors)"
            f" SELECT domain_id, {day}, count(*), sum(is_bot),"
            " count(DISTINCT CASE WHEN is_bot = 0 THEN ip_hash END) FROM redirect_hits"
            f" GROUP BY domain_id, {day}"
        )
        db.execute(
            "INSERT INTO redirect_hourly_totals (domain_id, hour, hits, bots)"
            " SELECT domain_id, ts / 3600000, count(*), sum(is_bot) FROM redirect_hits"
            " WHERE ts >= (strftime('%s', 'now', '-7 days') * 1000)"
            " GROUP BY domain_id, ts / 3600000"
        )
        db.execute(
            "UPDATE redirect_domains SET"
            " total_hits = (SELECT coalesce(sum(hits), 0) FROM redirect_daily_totals t"
            " WHERE t.domain_id = redirect_domains.id),"
            " bot_hits = (SELECT coalesce(sum(bots), 0) FROM redirect_daily_totals t"
            " WHERE t.domain_id = redirect_domains.id)"
        )
        values = {
            "total": "''",
            "country": "coalesce(h.country, '')",
            "referrer": "coalesce(r.host, '')",
            "path": "h.path",
            "browser": "a.browser",
            "os": "a.os",
            "device": "a.device",
        }
        scopes = {
            "domain": "h.domain_id",
            "owner": "1",
            "group": f"CASE WHEN h.domain_id <= {GROUPED} THEN 1 END",
        }
        for scope, key in scopes.items():
            for dimension, value in values.items():
                db.execute(
                    "INSERT INTO redirect_daily_counts"
                    " (scope, scope_id, dimension, day, value, hits, bots)"
                    f" SELECT '{scope}', {key}, '{dimension}', date(h.ts / 1000, 'unixepoch'),"
                    f" {value}, count(*), sum(h.is_bot) FROM redirect_hits h"
                    " JOIN agents a ON a.ua = h.user_agent"
                    " LEFT JOIN referers r ON r.referer = h.referer"
                    f" WHERE {key} IS NOT NULL"
                    f" GROUP BY {key}, date(h.ts / 1000, 'unixepoch'), {value}"
                )
        db.execute(
            "INSERT INTO redirect_monthly_counts"
            " (scope, scope_id, dimension, month, value, hits, bots)"
            " SELECT scope, scope_id, dimension, date(day, 'start of month'), value, sum(hits),"
            " sum(bots) FROM redirect_daily_counts"
            " GROUP BY scope, scope_id, dimension, date(day, 'start of month'), value"
        )
        db.commit()
        db.execute("ANALYZE")
        db.commit()


async def measure(url: str, repeats: int) -> list[tuple[str, float, float, float]]:
    database = Database(url)
    results = []
    calls: dict[str, dict[str, object]] = {
        "domain stats, busiest, days=1 (hourly)": {"domain_id": 1, "days": 1},
        "domain stats, busiest, days=30": {"domain_id": 1, "days": 30},
        "domain stats, busiest, days=365": {"domain_id": 1, "days": 365},
        "domain stats, busiest, days=365, bots included": {
            "domain_id": 1,
            "days": 365,
            "include_bots": True,
        },
        "domain stats, quiet, days=90": {"domain_id": 500, "days": 90},
        "summary (1000 domains), days=2 (hourly)": {"owner_id": None, "days": 2},
        "summary (1000 domains), days=90": {"owner_id": None, "days": 90},
        "summary (1000 domains), days=365": {"owner_id": None, "days": 365},
        "summary of the owner (1000 domains), days=365": {"owner_id": 1, "days": 365},
        "summary of a group (500 domains), days=365": {
            "owner_id": 1,
            "group_id": 1,
            "days": 365,
        },
    }
    for name, options in calls.items():
        timings = []
        cpu = []
        for _ in range(repeats):
            started = time.perf_counter()
            cpu_started = time.process_time()  # this process's CPU: the app and SQLite's thread
            async with database.session() as session:
                if "domain_id" in options:
                    domain_id = options.pop("domain_id")
                    await service.stats.for_domain(session, domain_id, **options)  # type: ignore[arg-type]
                    options["domain_id"] = domain_id
                else:
                    await service.stats.summary(session, **options)  # type: ignore[arg-type]
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
        results.append((name, statistics.median(timings), max(timings), statistics.median(cpu)))
    await database.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hits", type=int, default=10_000_000)
    parser.add_argument("--short", action="store_true")
    parser.add_argument(
        "--db", type=Path, help="Keep the filled database here and reuse it when it exists"
    )
    args = parser.parse_args()
    hits = 200_000 if args.short else args.hits
    with tempfile.TemporaryDirectory(prefix="bench-stats-") as scratch:
        path = args.db or Path(scratch) / "stats.sqlite"
        url = f"sqlite+aiosqlite:///{path}"
        if not path.exists():
            migrate.upgrade(url)
            started = time.perf_counter()
            fill(path, hits)
            print(f"{hits:,} hits stored in {time.perf_counter() - started:.0f} s\n")
        print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
        print("| call | median ms | max ms | median CPU ms |")
        print("|---|---|---|---|")
        for name, median_ms, max_ms, cpu_ms in asyncio.run(measure(url, 20)):
            print(f"| {name} | {median_ms:.1f} | {max_ms:.1f} | {cpu_ms:.1f} |")


if __name__ == "__main__":
    main()

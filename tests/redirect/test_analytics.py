"""Bots apart, and the breakdowns people look at, all from the rollups the hit writer keeps."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from stellwerk.kit.time import utc_now
from stellwerk.redirect import analytics
from stellwerk.runtime import Runtime
from tests.factories import bearer, create_token, create_user
from tests.redirect.factories import create_domain, hit_row, write_hits

ALL = ["read:domains", "write:domains", "read:analytics", "read:hits"]
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.mark.parametrize(
    ("agent", "expected"),
    [
        (CHROME, ("Chrome", "Windows", "desktop")),
        (IPHONE, ("Mobile Safari", "iOS", "mobile")),
        (IPAD, ("Mobile Safari", "iOS", "tablet")),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 Chrome/119.0 "
            "Safari/537.36",
            ("Chrome", "Android", "tablet"),
        ),
        (GOOGLEBOT, ("Googlebot", "", "bot")),
        (None, ("", "", "")),
    ],
)
def test_user_agents_are_classified(agent: str | None, expected: tuple[str, str, str]) -> None:
    assert tuple(analytics.agent(agent)) == expected


def test_referrers_and_paths_are_reduced() -> None:
    assert analytics.referrer_host("https://WWW.Google.de/search?q=x") == "google.de"
    assert analytics.referrer_host(None) == ""
    assert analytics.referrer_host("not a url") == ""
    assert analytics.path_only("/a/b?c=1") == "/a/b"


class TestBots:
    async def test_a_bot_leaves_the_total_alone_and_shows_under_bots(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        user = await create_user(runtime)
        headers = bearer(await create_token(runtime, user, ALL))
        record = await create_domain(runtime, user)
        now = ms(utc_now())
        await write_hits(runtime, [hit_row(record.id, ts=now, user_agent=CHROME)])
        url = f"/api/v1/domains/{record.id}/stats?days=7"
        before = (await client.get(url, headers=headers)).json()
        # One flagged at request time, one the user-agent parser recognises in the writer.
        await write_hits(
            runtime,
            [
                hit_row(record.id, ts=now, user_agent="curl/8", is_bot=True, ip_hash="b" * 64),
                hit_row(record.id, ts=now, user_agent=GOOGLEBOT, ip_hash="c" * 64),
            ],
        )
        after = (await client.get(url, headers=headers)).json()
        assert (before["total"], after["total"], after["bots"]) == (1, 1, 2)
        assert after["daily"][-1] == {
            "day": utc_now().date().isoformat(),
            "hits": 1,
            "visitors": 1,
            "bots": 2,
        }
        assert after["by_country"] == [{"country": "DE", "hits": 1}]
        included = (await client.get(f"{url}&bots=include", headers=headers)).json()
        assert (included["total"], included["bots"]) == (3, 2)
        assert included["by_country"] == [{"country": "DE", "hits": 3}]
        summary = (await client.get("/api/v1/analytics/summary", headers=headers)).json()
        assert (summary["total"], summary["bots"]) == (1, 2)
        assert summary["top"][0]["hits"] == 1
        domain = (await client.get(f"/api/v1/domains/{record.id}", headers=headers)).json()
        assert (domain["domain"]["total_hits"], domain["domain"]["bots"]) == (1, 2)
        listed = (await client.get("/api/v1/domains?bots=include", headers=headers)).json()
        assert listed["domains"][0]["total_hits"] == 3
        hits = (await client.get(f"/api/v1/hits?domain_id={record.id}", headers=headers)).json()
        assert sorted(h["is_bot"] for h in hits["hits"]) == [False, True, True]


class TestBreakdowns:
    async def test_referrers_paths_browsers_systems_devices_and_hours(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        user = await create_user(runtime)
        headers = bearer(await create_token(runtime, user, ALL))
        record = await create_domain(runtime, user)
        now = utc_now()
        await write_hits(
            runtime,
            [
                hit_row(record.id, ts=ms(now), user_agent=CHROME, referer="https://www.google.de/"),
                hit_row(record.id, ts=ms(now), user_agent=CHROME, path="/shop?id=1"),
                hit_row(record.id, ts=ms(now), user_agent=IPHONE, path="/shop?id=2"),
                hit_row(record.id, ts=ms(now), user_agent=GOOGLEBOT, path="/robots.txt"),
            ],
        )
        body = (
            await client.get(f"/api/v1/domains/{record.id}/stats?days=1", headers=headers)
        ).json()
        assert body["referrers"] == [{"host": None, "hits": 2}, {"host": "google.de", "hits": 1}]
        assert body["paths"] == [{"path": "/shop", "hits": 2}, {"path": "/", "hits": 1}]
        assert body["browsers"] == [
            {"name": "Chrome", "hits": 2},
            {"name": "Mobile Safari", "hits": 1},
        ]
        assert body["os"] == [{"name": "Windows", "hits": 2}, {"name": "iOS", "hits": 1}]
        assert body["devices"] == [
            {"device": "desktop", "hits": 2},
            {"device": "mobile", "hits": 1},
        ]
        assert len(body["hourly"]) == 24
        this_hour = now.replace(minute=0, second=0, microsecond=0)
        hour = next(
            h for h in body["hourly"] if h["hour"] == this_hour.isoformat().replace("+00:00", "Z")
        )
        assert (hour["hits"], hour["bots"]) == (3, 1)
        assert sum(h["hits"] for h in body["hourly"]) == body["total"] == 3
        with_bots = (
            await client.get(
                f"/api/v1/domains/{record.id}/stats?days=2&bots=include", headers=headers
            )
        ).json()
        assert len(with_bots["hourly"]) == 48
        assert {"device": "bot", "hits": 1} in with_bots["devices"]
        week = (
            await client.get(f"/api/v1/domains/{record.id}/stats?days=7", headers=headers)
        ).json()
        assert week["hourly"] is None

    async def test_group_stats_follow_the_domains_that_move(
        self, client: httpx.AsyncClient, runtime: Runtime
    ) -> None:
        user = await create_user(runtime)
        headers = bearer(await create_token(runtime, user, ALL))
        group = (
            await client.post("/api/v1/groups", headers=headers, json={"name": "Campaign"})
        ).json()["group"]
        inside = await create_domain(runtime, user, group_id=group["id"])
        outside = await create_domain(runtime, user)
        now = ms(utc_now())
        await write_hits(
            runtime,
            [
                hit_row(inside.id, ts=now, user_agent=CHROME, country="AT"),
                hit_row(outside.id, ts=now, user_agent=IPHONE, country="CH"),
                hit_row(outside.id, ts=now, user_agent=IPHONE, country="CH"),
            ],
        )
        url = f"/api/v1/analytics/summary?group_id={group['id']}"
        before = (await client.get(url, headers=headers)).json()
        assert before["total"] == 1
        assert before["by_country"] == [{"country": "AT", "hits": 1}]
        assert [t["id"] for t in before["top"]] == [inside.id]
        moved = await client.patch(
            f"/api/v1/domains/{outside.id}", headers=headers, json={"group_id": group["id"]}
        )
        assert moved.status_code == 200
        after = (await client.get(url, headers=headers)).json()
        assert after["total"] == 3
        assert after["by_country"] == [{"country": "CH", "hits": 2}, {"country": "AT", "hits": 1}]
        assert after["browsers"] == [
            {"name": "Mobile Safari", "hits": 2},
            {"name": "Chrome", "hits": 1},
        ]
        await client.patch(f"/api/v1/domains/{inside.id}", headers=headers, json={"group_id": None})
        await client.delete(f"/api/v1/domains/{outside.id}", headers=headers)
        empty = (await client.get(url, headers=headers)).json()
        assert (empty["total"], empty["by_country"], empty["browsers"]) == (0, [], [])
        owner = (await client.get("/api/v1/analytics/summary", headers=headers)).json()
        assert owner["by_country"] == [{"country": "AT", "hits": 1}]  # the deleted domain's gone

    async def test_rare_values_are_folded_into_other(self, runtime: Runtime) -> None:
        user = await create_user(runtime)
        record = await create_domain(runtime, user)
        now = ms(utc_now())
        many = analytics.VALUES_PER_DAY + 5
        await write_hits(
            runtime, [hit_row(record.id, ts=now, path=f"/p{i}") for i in range(many - 10)]
        )
        await write_hits(runtime, [hit_row(record.id, ts=now, path=f"/p{i}") for i in range(many)])
        from stellwerk.redirect import service

        async with runtime.database.session() as session:
            stats = await service.stats.for_domain(session, record.id, days=1)
            counts = await service.StatsRepository(session).counts(
                "domain", [record.id], utc_now().date(), ["path"]
            )
        assert len(counts) == analytics.VALUES_PER_DAY + 1
        assert ("path", analytics.OTHER, 5, 0) in counts
        assert sum(n for _, n in stats.breakdowns["path"]) <= 2 * many


async def test_long_windows_add_months_and_edge_days_exactly(runtime: Runtime) -> None:
    """Whole months come from the monthly rollup, the days around them from the daily one:
    every window must count exactly the hits inside it."""
    user = await create_user(runtime)
    record = await create_domain(runtime, user)
    now = utc_now()
    days_back = [0, 1, 13, 29, 30, 31, 44, 45, 59, 60, 61, 89, 90, 120, 200, 364, 365, 400]
    await write_hits(
        runtime,
        [
            hit_row(record.id, ts=ms(now - dt.timedelta(days=back)), country="DE")
            for back in days_back
        ],
    )
    from stellwerk.redirect import service

    for days in (1, 2, 30, 31, 45, 60, 61, 90, 91, 365, 366):
        async with runtime.database.session() as session:
            stats = await service.stats.for_domain(session, record.id, days=days)
            summary = await service.stats.summary(session, owner_id=user.id, days=days)
            everyone = await service.stats.summary(session, owner_id=None, days=days)
        expected = sum(1 for back in days_back if back < days)
        assert stats.total == expected, days
        assert stats.by_country == ([("DE", expected)] if expected else []), days
        for totals in (summary, everyone):
            assert totals.total == expected, days
            assert [(t.id, t.hits) for t in totals.top] == [(record.id, expected)], days
            assert totals.by_country == stats.by_country, days
            assert [p.hits for p in totals.daily] == [p.hits for p in stats.daily], days
            assert [p.visitors for p in totals.daily] == [p.visitors for p in stats.daily], days


async def test_hourly_totals_are_kept_for_a_week(runtime: Runtime) -> None:
    from sqlalchemy import func, select

    from stellwerk.models import RedirectHourlyTotal
    from stellwerk.redirect import service

    user = await create_user(runtime)
    record = await create_domain(runtime, user)
    now = utc_now()
    await write_hits(
        runtime,
        [
            hit_row(record.id, ts=ms(now)),
            hit_row(record.id, ts=ms(now - dt.timedelta(days=6))),
            hit_row(record.id, ts=ms(now - dt.timedelta(days=8))),
        ],
    )
    async with runtime.database.session() as session:
        assert await service.rollups.prune(session) == 1
        left = await session.scalar(select(func.count()).select_from(RedirectHourlyTotal))
    assert left == 2

"""redirect groups, sunset pages, target checks, bots apart and the analytics rollups

- `redirect_groups`; `redirect_domains` gains `group_id`, `sunset_config`, `bot_hits` and the
  target check columns.
- `redirect_daily_totals` gains `bots`; `redirect_hourly_totals` is new.
- `redirect_daily_counts` (scope, scope id, dimension, day, value) replaces
  `redirect_daily_countries` and `redirect_owner_daily_countries`; their rows are copied as the
  `country` dimension of the `domain` and `owner` scopes. `redirect_monthly_counts` holds the
  same per month.
- Every scope also counts all its hits per day and month (the `total` dimension), so summaries
  read one row per day or month instead of one per domain.
- Bot counts and the last week's hourly totals are computed from the stored hits, so the
  history reads the same with bots apart. Referrers, paths, browsers, systems and devices are
  counted from this version on (the user agent is parsed when a hit is written).

Revision ID: 1300
Revises: 1100
Create Date: 2026-12-06 14:30:00
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import stellwerk.kit.db

revision: str = "1300"
down_revision: str | Sequence[str] | None = "1100"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
EPOCH = dt.date(1970, 1, 1)
DAY_MS = 86_400_000
HOUR_MS = 3_600_000
HOURLY_DAYS = 7

counts = sa.table(
    "redirect_daily_counts",
    sa.column("scope", sa.String),
    sa.column("scope_id", sa.Integer),
    sa.column("dimension", sa.String),
    sa.column("day", sa.Date),
    sa.column("value", sa.String),
    sa.column("hits", sa.BigInteger),
    sa.column("bots", sa.BigInteger),
)


def _day(epoch_day: int) -> dt.date:
    return EPOCH + dt.timedelta(days=int(epoch_day))


def upgrade() -> None:
    op.create_table(
        "redirect_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("color", sa.String(length=7), nullable=False),
        sa.Column("target_url", sa.String(length=2048), nullable=True),
        sa.Column("redirect_code", sa.Integer(), nullable=True),
        sa.Column("created_at", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_redirect_groups_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redirect_groups")),
        sa.UniqueConstraint("owner_id", "name", name=op.f("uq_redirect_groups_owner_id_name")),
    )
    with op.batch_alter_table("redirect_groups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_redirect_groups_owner_id"), ["owner_id"], unique=False)

    with op.batch_alter_table("redirect_domains", schema=None) as batch_op:
        batch_op.add_column(sa.Column("group_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("sunset_config", JSON, nullable=True))
        batch_op.add_column(
            sa.Column("bot_hits", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("target_status", sa.String(length=10), nullable=True))
        batch_op.add_column(
            sa.Column(
                "target_checked_at", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(
            sa.Column(
                "target_failing_since", stellwerk.kit.db.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.add_column(sa.Column("target_check", JSON, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_redirect_domains_group_id_redirect_groups"),
            "redirect_groups",
            ["group_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(
            batch_op.f("ix_redirect_domains_group_id"), ["group_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_redirect_domains_target_status"), ["target_status"], unique=False
        )

    with op.batch_alter_table("redirect_daily_totals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bots", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.drop_index("ix_redirect_daily_totals_day")
        batch_op.create_index(
            "ix_redirect_daily_totals_day",
            ["day", "domain_id", "hits", "bots", "visitors"],
            unique=False,
        )

    op.create_table(
        "redirect_daily_counts",
        sa.Column("scope", sa.String(length=6), nullable=False),
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(length=8), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.Column("bots", sa.BigInteger(), nullable=False),
        sa.Column("visitors", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint(
            "scope", "scope_id", "dimension", "day", "value", name=op.f("pk_redirect_daily_counts")
        ),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "redirect_monthly_counts",
        sa.Column("scope", sa.String(length=6), nullable=False),
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(length=8), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.Column("bots", sa.BigInteger(), nullable=False),
        sa.Column("visitors", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint(
            "scope",
            "scope_id",
            "dimension",
            "month",
            "value",
            name=op.f("pk_redirect_monthly_counts"),
        ),
        sqlite_with_rowid=False,
    )
    for table, period in (("redirect_daily_counts", "day"), ("redirect_monthly_counts", "month")):
        op.create_index(
            f"ix_{table}_total",
            table,
            ["scope", period, "scope_id", "hits", "bots"],
            unique=False,
            sqlite_where=sa.text("dimension = 'total'"),
            postgresql_where=sa.text("dimension = 'total'"),
        )
    op.create_table(
        "redirect_hourly_totals",
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.Column("bots", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("domain_id", "hour", name=op.f("pk_redirect_hourly_totals")),
    )
    with op.batch_alter_table("redirect_hourly_totals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_redirect_hourly_totals_hour", ["hour", "domain_id", "hits", "bots"], unique=False
        )

    _move_country_rollups()
    _count_bots()
    _fill_totals()
    _fill_hourly()
    _sum_months()

    op.drop_table("redirect_owner_daily_countries")
    with op.batch_alter_table("redirect_daily_countries", schema=None) as batch_op:
        batch_op.drop_index("ix_redirect_daily_countries_day")
    op.drop_table("redirect_daily_countries")


def _move_country_rollups() -> None:
    op.execute(
        counts.insert().from_select(
            ["scope", "scope_id", "dimension", "day", "value", "hits", "bots"],
            sa.select(
                sa.literal("domain"),
                sa.column("domain_id"),
                sa.literal("country"),
                sa.column("day"),
                sa.column("country"),
                sa.column("hits"),
                sa.literal(0),
            ).select_from(sa.table("redirect_daily_countries")),
        )
    )
    op.execute(
        counts.insert().from_select(
            ["scope", "scope_id", "dimension", "day", "value", "hits", "bots"],
            sa.select(
                sa.literal("owner"),
                sa.column("owner_id"),
                sa.literal("country"),
                sa.column("day"),
                sa.column("country"),
                sa.column("hits"),
                sa.literal(0),
            )
            .select_from(sa.table("redirect_owner_daily_countries"))
            .where(sa.column("hits") > 0),
        )
    )


def _count_bots() -> None:
    """Bots per domain, day and country from the stored hits, into every rollup."""
    bind = op.get_bind()
    owners: dict[int, int] = dict(
        bind.execute(sa.text("SELECT id, owner_id FROM redirect_domains")).tuples().all()
    )
    rows = bind.execute(
        sa.text(
            f"SELECT domain_id, ts / {DAY_MS}, country, count(*) FROM redirect_hits"  # noqa: S608 - constants
            " WHERE is_bot = :yes AND domain_id IS NOT NULL GROUP BY 1, 2, 3"
        ),
        {"yes": True},
    ).all()
    per_day: Counter[tuple[int, dt.date]] = Counter()
    per_country: Counter[tuple[str, int, dt.date, str]] = Counter()
    per_domain: Counter[int] = Counter()
    for domain_id, epoch_day, country, bots in rows:
        if domain_id not in owners:
            continue
        day = _day(epoch_day)
        per_day[(domain_id, day)] += bots
        per_country[("domain", domain_id, day, country or "")] += bots
        per_country[("owner", owners[domain_id], day, country or "")] += bots
        per_domain[domain_id] += bots
    if per_day:
        bind.execute(
            sa.text(
                "UPDATE redirect_daily_totals SET bots = :bots WHERE domain_id = :d AND day = :day"
            ),
            [{"bots": n, "d": d, "day": day} for (d, day), n in sorted(per_day.items())],
        )
    if per_country:
        bind.execute(
            sa.text(
                "UPDATE redirect_daily_counts SET bots = :bots WHERE scope = :scope"
                " AND scope_id = :id AND dimension = 'country' AND day = :day AND value = :value"
            ),
            [
                {"bots": n, "scope": scope, "id": i, "day": day, "value": value}
                for (scope, i, day, value), n in sorted(per_country.items())
            ],
        )
    if per_domain:
        bind.execute(
            sa.text("UPDATE redirect_domains SET bot_hits = :bots WHERE id = :d"),
            [{"bots": n, "d": d} for d, n in sorted(per_domain.items())],
        )


def _fill_totals() -> None:
    """The `total` dimension of the domain and owner scopes, from the daily totals."""
    op.execute(
        "INSERT INTO redirect_daily_counts"
        " (scope, scope_id, dimension, day, value, hits, bots, visitors)"
        " SELECT 'domain', domain_id, 'total', day, '', hits, bots, visitors"
        " FROM redirect_daily_totals"
    )
    op.execute(
        "INSERT INTO redirect_daily_counts"
        " (scope, scope_id, dimension, day, value, hits, bots, visitors)"
        " SELECT 'owner', d.owner_id, 'total', t.day, '', sum(t.hits), sum(t.bots),"
        " sum(t.visitors) FROM redirect_daily_totals t"
        " JOIN redirect_domains d ON d.id = t.domain_id GROUP BY d.owner_id, t.day"
    )


def _sum_months() -> None:
    """The monthly rows of the (country) rollups copied above."""
    if op.get_bind().dialect.name == "postgresql":
        month = "CAST(date_trunc('month', day) AS date)"
    else:
        month = "date(day, 'start of month')"
    op.execute(
        "INSERT INTO redirect_monthly_counts"  # noqa: S608 - constant names
        " (scope, scope_id, dimension, month, value, hits, bots, visitors)"
        f" SELECT scope, scope_id, dimension, {month}, value, sum(hits), sum(bots),"
        " sum(visitors)"
        " FROM redirect_daily_counts"
        f" GROUP BY scope, scope_id, dimension, {month}, value"
    )


def _fill_hourly() -> None:
    bind = op.get_bind()
    since = (int(time.time() * 1000) // DAY_MS - HOURLY_DAYS) * DAY_MS
    rows = bind.execute(
        sa.text(
            f"SELECT domain_id, ts / {HOUR_MS}, is_bot, count(*) FROM redirect_hits"  # noqa: S608 - constants
            " WHERE ts >= :since AND domain_id IS NOT NULL GROUP BY 1, 2, 3"
        ),
        {"since": since},
    ).all()
    hourly: dict[tuple[int, int], list[int]] = {}
    for domain_id, hour, is_bot, n in rows:
        entry = hourly.setdefault((domain_id, int(hour)), [0, 0])
        entry[0] += n
        if is_bot:
            entry[1] += n
    if hourly:
        bind.execute(
            sa.text(
                "INSERT INTO redirect_hourly_totals (domain_id, hour, hits, bots)"
                " VALUES (:d, :hour, :hits, :bots)"
            ),
            [
                {"d": d, "hour": hour, "hits": hits, "bots": bots}
                for (d, hour), (hits, bots) in sorted(hourly.items())
            ],
        )


def downgrade() -> None:
    op.create_table(
        "redirect_daily_countries",
        sa.Column("domain_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "domain_id", "day", "country", name=op.f("pk_redirect_daily_countries")
        ),
    )
    with op.batch_alter_table("redirect_daily_countries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_redirect_daily_countries_day", ["day", "country", "domain_id", "hits"], unique=False
        )
    op.create_table(
        "redirect_owner_daily_countries",
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "owner_id", "day", "country", name=op.f("pk_redirect_owner_daily_countries")
        ),
    )
    for scope, table, key in (
        ("domain", "redirect_daily_countries", "domain_id"),
        ("owner", "redirect_owner_daily_countries", "owner_id"),
    ):
        op.execute(
            sa.table(
                table,
                sa.column(key, sa.Integer),
                sa.column("day", sa.Date),
                sa.column("country", sa.String),
                sa.column("hits", sa.BigInteger),
            )
            .insert()
            .from_select(
                [key, "day", "country", "hits"],
                sa.select(counts.c.scope_id, counts.c.day, counts.c.value, counts.c.hits).where(
                    counts.c.scope == scope, counts.c.dimension == "country"
                ),
            )
        )

    with op.batch_alter_table("redirect_hourly_totals", schema=None) as batch_op:
        batch_op.drop_index("ix_redirect_hourly_totals_hour")
    op.drop_table("redirect_hourly_totals")
    op.drop_index("ix_redirect_monthly_counts_total", table_name="redirect_monthly_counts")
    op.drop_index("ix_redirect_daily_counts_total", table_name="redirect_daily_counts")
    op.drop_table("redirect_monthly_counts")
    op.drop_table("redirect_daily_counts")

    with op.batch_alter_table("redirect_daily_totals", schema=None) as batch_op:
        batch_op.drop_index("ix_redirect_daily_totals_day")
        batch_op.create_index(
            "ix_redirect_daily_totals_day", ["day", "domain_id", "hits", "visitors"], unique=False
        )
        batch_op.drop_column("bots")

    with op.batch_alter_table("redirect_domains", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_redirect_domains_target_status"))
        batch_op.drop_index(batch_op.f("ix_redirect_domains_group_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_redirect_domains_group_id_redirect_groups"), type_="foreignkey"
        )
        batch_op.drop_column("target_check")
        batch_op.drop_column("target_failing_since")
        batch_op.drop_column("target_checked_at")
        batch_op.drop_column("target_status")
        batch_op.drop_column("bot_hits")
        batch_op.drop_column("sunset_config")
        batch_op.drop_column("group_id")

    with op.batch_alter_table("redirect_groups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_redirect_groups_owner_id"))
    op.drop_table("redirect_groups")

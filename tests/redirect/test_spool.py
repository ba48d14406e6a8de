"""The hand-off of `stellwerk redirect serve`: workers spool batches, one writer process stores
them, and nothing is lost when a writer dies holding a file."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from stellwerk.redirect.hits import (
    SPOOL_PATTERN,
    HitRecorder,
    HitSpool,
    SaltKeeper,
    TrustedProxies,
    _spool_writer_loop,
    read_spool_file,
    reclaim_abandoned,
    write_spool_file,
)
from stellwerk.redirect.repository import HitRow
from stellwerk.runtime import Runtime
from tests.factories import create_user
from tests.redirect.factories import create_domain


def hits(domain_id: int | None, count: int) -> list[HitRow]:
    recorder = HitRecorder(SaltKeeper(b"k" * 32, retention_days=2), TrustedProxies(""))
    return [
        recorder.record(
            domain_id=domain_id,
            host="spool.example",
            peer=f"198.51.100.{n % 200}",
            forwarded_for=None,
            user_agent="Mozilla/5.0",
            referer=None,
            path=f"/p{n}",
        )
        for n in range(count)
    ]


def spooled(directory: Path) -> list[Path]:
    return sorted(directory.glob(SPOOL_PATTERN))


def claim_as_dead_writer(path: Path) -> None:
    path.rename(path.with_name(f".replay-999999999-{path.name}"))


def test_a_spool_file_round_trips(tmp_path: Path) -> None:
    rows = hits(7, 3)
    write_spool_file(tmp_path, rows, durable=False)
    (path,) = tmp_path.glob(SPOOL_PATTERN)
    assert read_spool_file(path) == rows
    assert not list(tmp_path.glob(".*.tmp"))


async def test_the_spool_hands_off_full_batches_and_the_rest_on_close(tmp_path: Path) -> None:
    spool = HitSpool(tmp_path, flush_seconds=60, batch_size=10)
    spool.start()
    for row in hits(1, 25):
        spool.add(row)
    assert len(spooled(tmp_path)) == 2
    assert spool.pending == 5
    await spool.close()
    assert spool.pending == 0
    assert sum(len(read_spool_file(p)) for p in spooled(tmp_path)) == 25


async def test_the_writer_stores_every_spooled_hit_and_empties_the_spool(
    runtime: Runtime, tmp_path: Path
) -> None:
    user = await create_user(runtime)
    domain = await create_domain(runtime, user, domain="spool.example")
    write_spool_file(tmp_path, hits(domain.id, 30), durable=False)
    write_spool_file(tmp_path, hits(None, 5), durable=False)
    # A file claimed by a writer that died before storing it goes back into the spool.
    dead = hits(domain.id, 4)
    write_spool_file(tmp_path, dead, durable=False)
    claim_as_dead_writer(spooled(tmp_path)[-1])
    reclaim_abandoned(tmp_path)
    assert len(spooled(tmp_path)) == 3

    await _spool_writer_loop(
        runtime.database.url,
        tmp_path,
        0.05,
        16,
        stop=lambda: True,  # stop at once: the final drain must still store everything
        orphaned=lambda: False,
        close_timeout=30,
    )
    assert not spooled(tmp_path)
    async with runtime.database.engine.connect() as connection:
        stored = (await connection.execute(text("SELECT count(*) FROM redirect_hits"))).scalar()
        total = (
            await connection.execute(
                text("SELECT total_hits FROM redirect_domains WHERE id = :id"), {"id": domain.id}
            )
        ).scalar()
    assert stored == 39
    assert total == 34

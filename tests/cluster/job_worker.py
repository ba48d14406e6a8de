"""A worker process (`stellwerk serve --role worker`'s `serve_worker`) whose periodic jobs are
short test jobs, on the database of `STELLWERK_*`: `tests/cluster/test_jobs.py` runs two.

Each job appends a line to the file `JOB_TEST_RUNS` ("<job> <executor id>"); `test.slow` writes
"started" and "finished" rows in one transaction of the table `job_probe`, 1.5 s apart (on SQLite
it holds the write lock meanwhile), and appends its line when it starts.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import uvloop
from sqlalchemy import text

from stellwerk import jobs
from stellwerk.config import Settings
from stellwerk.kit.logs import configure_logging, flush_logs
from stellwerk.runtime import Runtime
from stellwerk.serve import serve_worker

RUNS = Path(os.environ.get("JOB_TEST_RUNS", "runs.log"))


def _record(name: str, runtime: Runtime) -> None:
    with RUNS.open("a") as runs:
        runs.write(f"{name} {runtime.settings.executor_id}\n")


async def tick(runtime: Runtime) -> None:
    _record("test.tick", runtime)


async def fails(runtime: Runtime) -> None:
    raise RuntimeError("this job always fails")


async def off(runtime: Runtime) -> None:
    _record("test.off", runtime)


async def slow(runtime: Runtime) -> None:
    async with runtime.database.session() as session:
        executor = runtime.settings.executor_id
        insert = text("INSERT INTO job_probe (executor, note) VALUES (:executor, :note)")
        await session.execute(insert, {"executor": executor, "note": "started"})
        _record("test.slow", runtime)
        await asyncio.sleep(1.5)
        await session.execute(insert, {"executor": executor, "note": "finished"})


TEST_JOBS = [
    jobs.Job("test.tick", 1, tick),
    jobs.Job("test.fails", 1, fails),
    jobs.Job("test.off", 1, off),
    jobs.Job("test.slow", 2, slow),
]


def main() -> None:
    jobs.JOBS[:] = TEST_JOBS
    settings = Settings()
    configure_logging(level="INFO", fmt="json")

    def ready(urls: dict[str, object]) -> None:
        print("READY", flush=True)

    try:
        uvloop.run(serve_worker(settings, on_ready=ready))
    finally:
        flush_logs()
        sys.stdout.flush()


if __name__ == "__main__":
    main()

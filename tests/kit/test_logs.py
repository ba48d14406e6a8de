"""Logging: one "Started server process" line however many listeners start; lines written in
batches; access log lines written without a record read as the formatter would write them."""

from __future__ import annotations

import json
import logging

import pytest

from stellwerk.kit.logs import access, configure_logging, flush_logs, request_id_var


def test_the_process_is_announced_once(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        configure_logging(level="INFO")
        logger = logging.getLogger("uvicorn.error")
        for _ in range(3):
            logger.info("Started server process [%d]", 42)
        logger.info("Uvicorn running on %s", "http://127.0.0.1:8000")
        logger.info("Uvicorn running on %s", "http://127.0.0.1:8080")
        flush_logs()
    finally:
        root.handlers[:], root.level = saved
    err = capsys.readouterr().err
    assert err.count("Started server process [42]") == 1
    assert err.count("Uvicorn running on") == 2


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_access_lines_read_like_records(capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    token = request_id_var.set("req-1")
    try:
        configure_logging(level="INFO", fmt=fmt)
        capsys.readouterr()
        logger = logging.getLogger("stellwerk.access")
        access(logger, "GET", "/health", 200, 0.00123)  # written straight to the handler
        logger.info("%s %s %s", "GET", "/health", 200, extra={"duration_ms": 1.2})  # a record
        assert capsys.readouterr().err == ""  # batched: not yet written
        warning = logging.getLogger("stellwerk.test")
        warning.warning("now")  # a warning goes out at once, with what waited before it
        err = capsys.readouterr().err
    finally:
        request_id_var.reset(token)
        root.handlers[:], root.level = saved
    fast, record, now = err.splitlines()
    assert "now" in now
    if fmt == "json":
        fast_fields, record_fields = json.loads(fast), json.loads(record)
        del fast_fields["ts"], record_fields["ts"]
        assert fast_fields == record_fields
    else:
        assert fast.split(" ", 1)[1] == record.split(" ", 1)[1]  # all but the time
    assert "request_id=req-1" in err or '"request_id":"req-1"' in err

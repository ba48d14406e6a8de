"""Console logging: one "Started server process" line however many listeners start."""

from __future__ import annotations

import logging

import pytest

from stellwerk.kit.logs import configure_logging


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
    finally:
        root.handlers[:], root.level = saved
    err = capsys.readouterr().err
    assert err.count("Started server process [42]") == 1
    assert err.count("Uvicorn running on") == 2

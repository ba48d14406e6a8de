"""The API port as a client meets it: forwarded addresses are believed only from the configured
proxies, and request heads are bounded (a real `stellwerk serve`, SQLite)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.process import ServeProcess, base_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    tmp: Path = tmp_path_factory.mktemp("proxy-limits")
    process = ServeProcess(base_env(tmp / "var"), tmp / "serve.log")
    process.start()
    yield process
    process.stop()


def _raw(server: ServeProcess, head: bytes) -> bytes:
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        with contextlib.suppress(OSError):  # the server may close before the whole head is sent
            connection.sendall(head)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and answer.startswith(b"HTTP/1.1 200"):
                break
        return answer


def test_forwarded_for_from_an_untrusted_peer_does_not_bypass_the_login_limit(
    server: ServeProcess,
) -> None:
    statuses = []
    for n in range(6):
        response = httpx.post(
            f"{server.url}/api/auth/login",
            json={"username": f"nobody-{n}", "password": "wrong-password"},
            headers={"X-Forwarded-For": f"203.0.113.{n + 1}"},
            timeout=10,
        )
        statuses.append(response.status_code)
    # Counted per address: all six came from 127.0.0.1, whatever the header claimed.
    assert statuses == [401] * 5 + [429], statuses


def test_request_heads_over_64_kib_answer_431(server: ServeProcess) -> None:
    fine = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 60_000 + b"\r\n\r\n"
    assert _raw(server, fine).startswith(b"HTTP/1.1 200")
    big = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"B" * (2 * 1024 * 1024) + b"\r\n\r\n"
    answer = _raw(server, big)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert b'"code":"headers_too_large"' in answer
    # The server still answers afterwards.
    assert httpx.get(f"{server.url}/health", timeout=5).status_code == 200

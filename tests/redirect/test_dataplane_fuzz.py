"""Hostile bytes against the data plane's HTTP server and handler over a real socket: every
answer is well-formed, a Location never leaves the configured target, and the server survives."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stellwerk.config import Settings
from stellwerk.database import Database
from stellwerk.kit.http1 import Http1Server
from stellwerk.redirect.dataplane import DataPlane, bind_socket, make_route

TARGET = "https://target.example/base"

METHODS = st.sampled_from([b"GET", b"HEAD", b"POST", b"OPTIONS", b"CONNECT", b"G\x00T", b""])
TARGETS = st.one_of(
    st.sampled_from(
        [
            b"/",
            b"//evil.example/x",
            b"/\\evil.example",
            b"/a%0d%0aSet-Cookie:x",
            b"http://fuzz.example/p?q=1",
            b"https://evil.example@fuzz.example/",
            b"*",
            b"/%00",
            b"/?" + b"&" * 50,
        ]
    ),
    st.binary(min_size=0, max_size=80),
)
HEADER_LINES = st.lists(
    st.one_of(
        st.sampled_from(
            [
                b"Host: fuzz.example",
                b"Host: FUZZ.example:8080",
                b"Host: www.fuzz.example.",
                b"Host: fuzz.example\r\nHost: other.example",
                b"Content-Length: 3",
                b"Content-Length: -1",
                b"Transfer-Encoding: chunked",
                b"X-Forwarded-For: 8.8.8.8",
                b"User-Agent: \xff\xfe",
                b"Connection: close",
                b"Upgrade: websocket",
            ]
        ),
        st.binary(max_size=60),
    ),
    max_size=6,
)
# Well-formed requests with hostile paths and queries: these reach the handler.
PATHS = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0x21, max_codepoint=0x7E), st.sampled_from(["é", "\u202e"])
    ),
    max_size=60,
).map(lambda text: b"/" + text.encode())
WELL_FORMED = st.builds(
    lambda method, path, host, agent: (
        method
        + b" "
        + path
        + b" HTTP/1.1\r\nHost: "
        + host
        + b"\r\nUser-Agent: "
        + agent
        + b"\r\n\r\n"
    ),
    st.sampled_from([b"GET", b"HEAD", b"POST", b"DELETE"]),
    PATHS,
    st.sampled_from([b"fuzz.example", b"WWW.FUZZ.EXAMPLE:80", b"other.example", b"[::1]:80", b""]),
    st.binary(max_size=40).map(lambda agent: agent.replace(b"\r", b"").replace(b"\n", b"")),
)
REQUESTS = st.one_of(
    WELL_FORMED,
    WELL_FORMED.map(lambda request: request * 3),  # pipelined
    st.binary(max_size=300),
    st.builds(
        lambda method, target, version, lines, body: (
            (method + b" " + target + b" " + version + b"\r\n" + b"\r\n".join(lines) + b"\r\n\r\n")
            + body
        ),
        METHODS,
        TARGETS,
        st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1.1x", b""]),
        HEADER_LINES,
        st.binary(max_size=20),
    ),
)


class ServerThread:
    """The data plane's handler on the HTTP server, on an event loop in a thread of its own."""

    def __init__(self, tmp_path: Path) -> None:
        plane_settings = Settings(
            data_dir=tmp_path, secret_key="fuzz-secret-key-not-for-production"
        )
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'unused.sqlite'}")
        self.plane = DataPlane(plane_settings, database, b"k" * 32, spool=True)
        self.plane.table.routes["fuzz.example"] = make_route(1, TARGET, 301, True)
        self.plane.table.routes["www.fuzz.example"] = self.plane.table.routes["fuzz.example"]
        self.sock = bind_socket("127.0.0.1", 0)
        self.port = self.sock.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.server = Http1Server(self.plane.respond)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.listen(self.sock), self.loop).result(5)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.shutdown(1.0), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.sock.close()

    def exchange(self, data: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as client:
            client.sendall(data)
            client.shutdown(socket.SHUT_WR)
            chunks = []
            while chunk := client.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with ServerThread(tmp_path_factory.mktemp("fuzz")) as running:
        yield running


def responses(raw: bytes, *, head: bool = False) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """Split what the server sent into (status line, headers); bodies are skipped (answers to
    HEAD announce a length but carry none)."""
    found = []
    while raw:
        block, separator, raw = raw.partition(b"\r\n\r\n")
        assert separator, f"unterminated response head: {block!r}"
        status, *lines = block.split(b"\r\n")
        headers = {}
        for line in lines:
            name, colon, value = line.partition(b": ")
            assert colon, f"malformed header line {line!r}"
            headers[name] = value
        if not head:
            raw = raw[int(headers[b"content-length"]) :]
        found.append((status, headers))
    return found


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=REQUESTS)
def test_any_bytes_get_well_formed_answers(
    server: ServerThread, data: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="stellwerk.kit.http1"):
        answers = responses(server.exchange(data), head=data.startswith(b"HEAD "))
    assert not caplog.records, "the handler raised"  # a 500 would be our bug
    for status, headers in answers:
        assert status.startswith(b"HTTP/1.1 ")
        code = int(status.split(b" ")[1])
        assert code in (301, 400, 404, 408, 414, 431), status
        if code == 301:
            location = headers[b"location"]
            assert location.startswith(TARGET.encode())
            assert not set(location) & {0, 9, 10, 13, 32}


def test_the_server_still_answers_after_the_fuzzing(server: ServerThread) -> None:
    answer = server.exchange(b"GET /a/b?c=1 HTTP/1.1\r\nHost: www.fuzz.example\r\n\r\n")
    [(status, headers)] = responses(answer)
    assert status == b"HTTP/1.1 301 Moved Permanently"
    assert headers[b"location"] == b"https://target.example/base/a/b?c=1"

"""The fast paths answered in the HTTP protocol, over real sockets, beside the ASGI way."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from stellwerk.fast_protocol import fast_protocol
from stellwerk.kit.bounded_http import BoundedHeadProtocol
from stellwerk.middleware import MAX_FAST_BODY, Answer, FastPathMiddleware, FastPaths


class Recorder:
    """The app behind the fast paths, and what reached it."""

    def __init__(self) -> None:
        self.routed: list[str] = []
        self.tried: list[str] = []

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.routed.append(scope["path"])
        payload = json.dumps({"route": scope["path"], "size": len(body)}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def paths(self) -> FastPaths:
        paths = FastPaths()

        async def fast(scope: Scope, body: bytes) -> Answer | None:
            self.tried.append(scope["path"])
            return 200, json.dumps({"fast": body.decode()}).encode(), [(b"x-extra", b"1")]

        async def slow(scope: Scope, body: bytes) -> Answer | None:
            self.tried.append(scope["path"])
            await asyncio.sleep(0.05)
            return 201, b'{"slow":true}', []

        async def declines(scope: Scope, body: bytes) -> Answer | None:
            self.tried.append(scope["path"])
            return None

        async def fails(scope: Scope, body: bytes) -> Answer | None:
            raise RuntimeError("broken")

        paths.add("POST", "/api/fast", fast)
        paths.add("POST", "/api/slow", slow)
        paths.add("POST", "/api/declines", declines)
        paths.add("POST", "/api/fails", fails)
        paths.add("GET", "/health", fast)
        return paths


@contextlib.asynccontextmanager
async def serving(*, in_protocol: bool) -> AsyncIterator[tuple[int, Recorder]]:
    recorder = Recorder()
    paths = recorder.paths()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        FastPathMiddleware(recorder.app, paths),
        log_config=None,
        access_log=False,
        http=fast_protocol(paths) if in_protocol else BoundedHeadProtocol,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn has no event for it
        await asyncio.sleep(0.01)
    try:
        yield port, recorder
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 5)
    return status, headers, body


def post(path: str, body: bytes = b'{"a":1}', *, extra: str = "", version: str = "1.1") -> bytes:
    return (
        f"POST {path} HTTP/{version}\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


async def exchange(port: int, *requests: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"".join(requests))
        return [await read_response(reader) for _ in requests]
    finally:
        writer.close()


async def test_the_same_answer_as_through_asgi() -> None:
    answers = {}
    for in_protocol in (False, True):
        async with serving(in_protocol=in_protocol) as (port, recorder):
            (answer,) = await exchange(port, post("/api/fast", extra="X-Request-Id: abc\r\n"))
            assert recorder.routed == []
            answers[in_protocol] = answer
    (status_a, headers_a, body_a), (status_p, headers_p, body_p) = answers[False], answers[True]
    assert (status_p, body_p) == (status_a, body_a) == (200, b'{"fast": "{\\"a\\":1}"}')
    headers_a.pop("date"), headers_p.pop("date")
    assert headers_p == headers_a
    assert headers_p["x-request-id"] == "abc"
    assert headers_p["x-extra"] == "1"
    assert headers_p["server"] == "uvicorn"


async def test_keep_alive_and_pipelined_requests_answer_in_order() -> None:
    async with serving(in_protocol=True) as (port, recorder):
        answers = await exchange(
            port,
            post("/api/fast", b'{"n":1}'),
            post("/api/slow"),  # waits: the next ones queue behind it
            post("/api/declines"),  # the route answers
            post("/api/fast", b'{"n":2}'),
        )
    assert [status for status, _, _ in answers] == [200, 201, 200, 200]
    assert json.loads(answers[0][2]) == {"fast": '{"n":1}'}
    assert json.loads(answers[2][2]) == {"route": "/api/declines", "size": 7}
    assert json.loads(answers[3][2]) == {"fast": '{"n":2}'}
    assert recorder.routed == ["/api/declines"]
    # Declined once: the route does not try the fast path again.
    assert recorder.tried.count("/api/declines") == 1


async def test_a_get_fast_path() -> None:
    async with serving(in_protocol=True) as (port, recorder):
        (answer,) = await exchange(port, b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n")
    assert answer[0] == 200
    assert json.loads(answer[2]) == {"fast": ""}
    assert recorder.routed == []


@pytest.mark.parametrize(
    ("version", "extra"), [("1.0", ""), ("1.1", "Connection: close\r\n")], ids=["http10", "close"]
)
async def test_closes_when_the_client_asks(version: str, extra: str) -> None:
    async with serving(in_protocol=True) as (port, _):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(post("/api/fast", extra=extra, version=version))
        status, headers, _ = await read_response(reader)
        assert status == 200
        assert headers["connection"] == "close"
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the server
        writer.close()


async def test_expect_continue_and_large_bodies_go_the_ordinary_way() -> None:
    async with serving(in_protocol=True) as (port, recorder):
        body = b'{"b":2}'
        head = (
            b"POST /api/fast HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: 7\r\n\r\n"
        )
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head)
        assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5) == (
            b"HTTP/1.1 100 Continue\r\n\r\n"
        )
        writer.write(body)
        status, _, payload = await read_response(reader)
        assert (status, json.loads(payload)) == (200, {"fast": '{"b":2}'})
        writer.close()
        large = b"x" * (MAX_FAST_BODY + 10)
        ((status, _, payload),) = await exchange(port, post("/api/fast", large))
        assert (status, json.loads(payload)) == (200, {"route": "/api/fast", "size": len(large)})
        assert recorder.routed == ["/api/fast"]


async def test_a_failing_handler_answers_500_and_the_connection_goes_on() -> None:
    async with serving(in_protocol=True) as (port, _):
        answers = await exchange(port, post("/api/fails"), post("/api/fast"))
    assert answers[0][0] == 500
    assert json.loads(answers[0][2])["detail"] == "Internal server error"
    assert answers[1][0] == 200


async def test_other_paths_reach_the_app() -> None:
    async with serving(in_protocol=True) as (port, recorder):
        answers: list[Any] = await exchange(port, post("/api/other"))
    assert json.loads(answers[0][2]) == {"route": "/api/other", "size": 7}
    assert recorder.routed == ["/api/other"]

"""The lean HTTP/1.1 server of the redirect data plane, spoken to over real sockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from stellwerk.kit.http1 import Http1Server
from stellwerk.redirect.dataplane import bind_socket

Opener = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]


def echo(
    method: bytes, path: bytes, query: bytes, headers: dict[bytes, bytes], peer: str
) -> tuple[int, bytes, bytes]:
    body = {
        "method": method.decode(),
        "path": path.decode(),
        "query": query.decode(),
        "host": headers.get(b"host", b"").decode(),
        "peer": peer,
    }
    return 200, b"content-type: application/json\r\n", json.dumps(body).encode()


@asynccontextmanager
async def serving(**options: float) -> AsyncIterator[tuple[Http1Server, int, Opener]]:
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = Http1Server(echo, **options)  # type: ignore[arg-type]
    await server.listen(sock)

    async def open_connection() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", port)

    try:
        yield server, port, open_connection
    finally:
        await server.shutdown(1.0)
        sock.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 5)
    return status, headers, body


async def test_answers_with_date_and_length_through_httpx() -> None:
    async with serving() as (_, port, _), httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/a/b?c=1", headers={"Host": "x.de"})
    assert response.status_code == 200
    assert "date" in response.headers
    assert response.json() == {
        "method": "GET",
        "path": "/a/b",
        "query": "c=1",
        "host": "x.de",
        "peer": "127.0.0.1",
    }


async def test_keep_alive_and_pipelined_requests_in_order() -> None:
    async with serving() as (_, _, open_connection):
        reader, writer = await open_connection()
        writer.write(
            b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
            b"POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
            b"GET /three HTTP/1.1\r\nHost: a\r\n\r\n"
        )
        paths = [json.loads((await read_response(reader))[2])["path"] for _ in range(3)]
        assert paths == ["/one", "/two", "/three"]
        writer.write(b"GET /four HTTP/1.1\r\nHost: a\r\n\r\n")  # still open
        assert (await read_response(reader))[0] == 200
        writer.close()


async def test_chunked_body_is_read_and_discarded() -> None:
    async with serving() as (_, _, open_connection):
        reader, writer = await open_connection()
        writer.write(
            b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n"
        )
        first, second = await read_response(reader), await read_response(reader)
        assert json.loads(first[2])["method"] == "POST"
        assert json.loads(second[2])["path"] == "/next"
        writer.close()


async def test_http10_closes_and_head_has_no_body() -> None:
    async with serving() as (_, _, open_connection):
        reader, writer = await open_connection()
        writer.write(b"HEAD /x HTTP/1.0\r\nHost: a\r\n\r\n")
        head = await asyncio.wait_for(reader.read(), 5)  # the server closes
        status_line, _, rest = head.partition(b"\r\n")
        assert status_line == b"HTTP/1.1 200 OK"
        assert b"connection: close" in rest
        assert rest.endswith(b"\r\n\r\n")  # content-length announced, no body sent
        writer.close()


async def test_absolute_form_sets_host_and_fragments_are_dropped() -> None:
    async with serving() as (_, _, open_connection):
        reader, writer = await open_connection()
        writer.write(b"GET http://Other.example:8080/p?q=1 HTTP/1.1\r\nHost: a\r\n\r\n")
        body = json.loads((await read_response(reader))[2])
        assert (body["host"], body["path"], body["query"]) == ("Other.example:8080", "/p", "q=1")
        writer.write(b"GET /frag#x?y HTTP/1.1\r\nHost: a\r\n\r\n")
        body = json.loads((await read_response(reader))[2])
        assert (body["path"], body["query"]) == ("/frag", "")
        writer.close()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: nope\r\n\r\n", 400),
        (b"GET /x HTTP/1.1\r\nHost: a\r\nX-Big: " + b"y" * 20_000 + b"\r\n\r\n", 431),
        (b"GET /" + b"z" * 20_000 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    ],
)
async def test_bad_requests_are_refused_and_closed(request_bytes: bytes, status: int) -> None:
    async with serving() as (_, _, open_connection):
        reader, writer = await open_connection()
        writer.write(request_bytes)
        got, headers, _ = await read_response(reader)
        assert got == status
        assert headers["connection"] == "close"
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()


async def test_idle_and_slow_connections_are_closed() -> None:
    async with serving(head_timeout=1.0, idle_timeout=1.0) as (server, _, open_connection):
        idle_reader, idle_writer = await open_connection()
        slow_reader, slow_writer = await open_connection()
        slow_writer.write(b"GET /slow HTTP/1.1\r\nHost: a\r\n")  # never finishes its head
        assert await asyncio.wait_for(idle_reader.read(), 5) == b""
        status, _, _ = await read_response(slow_reader)
        assert status == 408
        assert not server.connections
        idle_writer.close()
        slow_writer.close()


async def test_graceful_stop_answers_a_request_under_way() -> None:
    async with serving() as (server, _, open_connection):
        idle_reader, _idle_writer = await open_connection()
        reader, writer = await open_connection()
        writer.write(b"GET /late HTTP/1.1\r\nHost: a\r\n")  # head not complete yet
        await asyncio.sleep(0.1)
        stopping = asyncio.create_task(server.shutdown(5.0))
        assert await asyncio.wait_for(idle_reader.read(), 5) == b""  # idle: closed at once
        writer.write(b"\r\n")
        status, headers, body = await read_response(reader)
        assert (status, json.loads(body)["path"]) == (200, "/late")
        assert headers["connection"] == "close"
        await asyncio.wait_for(stopping, 5)
        assert not server.connections


async def test_a_failing_handler_gives_500_and_a_log_line(caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: object) -> tuple[int, bytes, bytes]:
        raise RuntimeError("bug")

    sock = bind_socket("127.0.0.1", 0)
    server = Http1Server(broken)
    await server.listen(sock)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", sock.getsockname()[1])
        writer.write(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        status, headers, _ = await read_response(reader)
        assert (status, headers["connection"]) == (500, "close")
        assert "HTTP handler failed" in caplog.text
        writer.close()
    finally:
        await server.shutdown(1.0)
        sock.close()

"""A lean HTTP/1.1 server for answers computed at once from the request head.

An `asyncio.Protocol` around httptools' parser (llhttp, the parser of Node.js and uvicorn): the
answer is written from the parser callback on the event loop's own thread, with no task, no
ASGI/RSGI messages and no thread hop per request. Measured on the project machine, this serves
about twice the requests per second of a bare granian RSGI app (docs/benchmarks.md), which is
why the redirect data plane uses it rather than a general-purpose server.

What a general server does and this one keeps: keep-alive and pipelining, HTTP/1.0, `HEAD`
without a body, request bodies read and discarded, a bound on the request head (431), 400 on
malformed requests, closing idle connections and slow request heads, write back-pressure, a
`Date` header, and a graceful stop that answers every request whose head has arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import socket
import time
from collections.abc import Callable
from http import HTTPStatus

import httptools

log = logging.getLogger(__name__)

# (method, path, query, headers with lower-case names, peer address) → (status, extra header
# lines, body). Header lines are complete `name: value\r\n` byte strings.
Handler = Callable[[bytes, bytes, bytes, dict[bytes, bytes], str], tuple[int, bytes, bytes]]

MAX_HEAD_BYTES = 16 * 1024
HEAD_TIMEOUT_SECONDS = 10.0  # a request head must arrive within this (slow-loris)
IDLE_TIMEOUT_SECONDS = 30.0  # a keep-alive connection with nothing to do is closed after this

_STATUS_LINES = {
    status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode() for status in HTTPStatus
}


_NO_CONTENT = b"content-length: 0\r\n"
_CLOSE = b"connection: close\r\n\r\n"


def status_line(status: int) -> bytes:
    return _STATUS_LINES.get(status) or f"HTTP/1.1 {status} Unknown\r\n".encode()


def _date_line() -> bytes:
    return b"date: " + email.utils.formatdate(usegmt=True).encode() + b"\r\n"


class Http1Server:
    """The shared state of every connection: handler, clock, Date line, open connections."""

    def __init__(
        self,
        handler: Handler,
        *,
        max_head_bytes: int = MAX_HEAD_BYTES,
        head_timeout: float = HEAD_TIMEOUT_SECONDS,
        idle_timeout: float = IDLE_TIMEOUT_SECONDS,
    ) -> None:
        self.handler = handler
        self.max_head_bytes = max_head_bytes
        self.head_timeout = head_timeout
        self.idle_timeout = idle_timeout
        self.connections: set[Http1Connection] = set()
        self.closing = False
        self.clock = time.monotonic()
        self.date_line = _date_line()
        self._server: asyncio.AbstractServer | None = None
        self._ticker: asyncio.TimerHandle | None = None

    def connection(self) -> Http1Connection:
        return Http1Connection(self)

    async def listen(self, sock: socket.socket) -> None:
        """Accept connections on a bound, listening socket."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self.connection, sock=sock, backlog=2048)
        self._tick()

    def _tick(self) -> None:
        # Once a second: the clock and Date line every connection reads, and the timeouts.
        self.clock = time.monotonic()
        self.date_line = _date_line()
        for connection in list(self.connections):
            connection.check_timeouts(self.clock)
        self._ticker = asyncio.get_running_loop().call_later(1.0, self._tick)

    async def shutdown(self, grace_seconds: float = 10.0) -> None:
        """Stop accepting, answer every request already under way, then close."""
        self.closing = True
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.close_if_idle()
        deadline = time.monotonic() + grace_seconds
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            for connection in list(self.connections):
                connection.close_if_idle()
        for connection in list(self.connections):
            connection.transport.abort()
        if self._ticker is not None:
            self._ticker.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)


class Http1Connection(asyncio.Protocol):
    __slots__ = (
        "server",
        "transport",
        "parser",
        "peer",
        "url",
        "headers",
        "head_bytes",
        "head_started",
        "last_active",
        "in_request",
        "answered",
    )

    def __init__(self, server: Http1Server) -> None:
        self.server = server
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.headers: dict[bytes, bytes] = {}
        self.head_bytes = 0
        self.head_started = 0.0  # 0: no request head in progress
        self.last_active = server.clock
        self.in_request = False  # bytes of a request arrived that are not answered yet
        self.answered = False

    # -- transport events ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername")
        self.peer = peer[0] if isinstance(peer, tuple) else ""
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)

    def pause_writing(self) -> None:
        # The client does not read its answers: stop reading its requests until it does.
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        self.last_active = self.server.clock
        self.in_request = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            pass  # answered at the end of the head like any request; the connection closes
        except httptools.HttpParserCallbackError:
            log.exception("HTTP handler failed")  # a bug of ours, not a bad request
            self._fail(500)
        except httptools.HttpParserError:
            self._fail(400)

    # -- parser callbacks -------------------------------------------------------------------

    # No on_message_begin/on_message_complete: every callback is a Python call per request, so
    # the first piece of a URL marks the start of a request head.
    def on_url(self, url: bytes) -> None:
        if self.head_started:
            self.url += url
            self.head_bytes += len(url)
        else:
            self.head_started = self.server.clock or 1.0
            self.answered = False
            self.url = url
            self.head_bytes = len(url)
        if self.head_bytes > self.server.max_head_bytes:
            self._fail(414)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.lower()] = value
        self.head_bytes += len(name) + len(value)
        if self.head_bytes > self.server.max_head_bytes:
            self._fail(431)

    def on_headers_complete(self) -> None:
        self.head_started = 0.0
        if self.answered or self.transport.is_closing():  # refused already
            return
        self.in_request = False  # a body may follow: it is read and dropped
        parser = self.parser
        method = parser.get_method()
        url = self.url
        headers = self.headers
        self.headers = {}
        if url[:1] == b"/" and b"#" not in url:
            path, _, query = url.partition(b"?")
        else:
            try:
                path, query = self._target(url, headers)
            except httptools.HttpParserInvalidURLError:
                self._fail(400)
                return
        server = self.server
        status, header_lines, body = server.handler(method, path, query, headers, self.peer)
        self.answered = True
        head = status_line(status)
        length = b"content-length: %d\r\n" % len(body) if body else _NO_CONTENT
        if method == b"HEAD":
            body = b""
        if parser.should_keep_alive() and not parser.should_upgrade() and not server.closing:
            self.transport.write(
                b"".join((head, server.date_line, header_lines, length, b"\r\n", body))
            )
        else:
            self.transport.write(
                b"".join((head, server.date_line, header_lines, length, _CLOSE, body))
            )
            self.transport.close()

    # -- helpers ----------------------------------------------------------------------------

    def _target(self, url: bytes, headers: dict[bytes, bytes]) -> tuple[bytes, bytes]:
        """Path and query of a request target other than a plain `/path?query`: with a
        fragment (never meant for the server), `*`, or in absolute form (`GET http://host/path?q`,
        as proxies send it), whose host replaces the Host header."""
        url = url.split(b"#", 1)[0]
        if url[:1] == b"/":
            path, _, query = url.partition(b"?")
            return path, query
        if url == b"*":
            return b"/", b""
        parsed = httptools.parse_url(url)
        if parsed.host:
            port = b":%d" % parsed.port if parsed.port else b""
            headers[b"host"] = parsed.host + port
        return parsed.path or b"/", parsed.query or b""

    def _fail(self, status: int) -> None:
        """Refuse a request that cannot be parsed or is too large, and close."""
        if not self.answered and not self.transport.is_closing():
            self.answered = True
            body = HTTPStatus(status).phrase.encode() + b"\n"
            try:
                head_only = self.parser.get_method() == b"HEAD"
            except httptools.HttpParserError:
                head_only = False  # the request line itself was not understood
            self.transport.write(
                status_line(status)
                + self.server.date_line
                + b"content-type: text/plain; charset=utf-8\r\n"
                + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
                + (b"" if head_only else body)
            )
        self.head_started = 0.0
        self.in_request = False
        self.transport.close()

    def check_timeouts(self, now: float) -> None:
        if self.head_started and now - self.head_started > self.server.head_timeout:
            self._fail(408)
        elif now - self.last_active > self.server.idle_timeout:
            self.transport.close()

    def close_if_idle(self) -> None:
        """While stopping: close once no request is half received."""
        if not self.in_request or self.answered:
            self.in_request = False
            self.transport.close()

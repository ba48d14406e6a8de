"""uvicorn's HTTP/1.1 protocol (httptools) with a bound on the request head.

uvicorn reads a request head of any size before the app sees it; a client could send a header of
many megabytes without authenticating. This protocol counts the bytes of each request head as
they arrive and answers `431 Request Header Fields Too Large` once a head passes
`MAX_HEAD_BYTES`, as the redirect data plane does. It then closes gracefully: it shuts its side
down and reads and drops what the client is still sending for a moment (a "lingering close"), so
the client sees the answer instead of a connection reset.
"""

from __future__ import annotations

import asyncio

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 64 * 1024
LINGER_SECONDS = 2.0
_HEAD_END = b"\r\n\r\n"


class BoundedHeadProtocol(HttpToolsProtocol):
    max_head_bytes = MAX_HEAD_BYTES

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._refused = False
        self._head_open = True
        self._head_bytes = 0
        self._head_tail = b""
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering after a refusal: dropped
        if self._head_open:
            seen = self._head_tail + data
            end = seen.find(_HEAD_END)
            # Count this chunk up to the end of the head when the head ends in it.
            self._head_bytes += len(data) if end < 0 else end + 4 - len(self._head_tail)
            self._head_tail = seen[-3:]
            if self._head_bytes > self.max_head_bytes:
                self._refuse_head()
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._head_open = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._head_open, self._head_bytes, self._head_tail = True, 0, b""
        super().on_message_complete()

    def _refuse_head(self) -> None:
        body = orjson.dumps(
            {
                "error": "request_header_fields_too_large",
                "code": "headers_too_large",
                "detail": f"The request head is larger than {self.max_head_bytes} bytes",
            }
        )
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self._head_open = False
        self._refused = True
        if self.transport.can_write_eof():
            self.transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER_SECONDS, self.transport.close)

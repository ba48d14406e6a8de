"""The API's HTTP protocol: the fast paths answered as soon as their request is read.

Through ASGI, even a fast path's answer goes through the server's generic response writing
(each header checked on its way out, head and body written apart) and the middleware's
bookkeeping around it: more than the answer itself for a license check or `/health`. Here the
protocol, once a fast path's request is complete, runs its handler in a task of its own and
writes the whole response in one go, with the same status, headers (the server's own `date`
and `server` too), request id, metrics and access log line as `FastPathMiddleware` gives. What
is not plain goes the ordinary way, through the task and ASGI app uvicorn would start: an
`Expect: 100-continue`, a body over the fast paths' limit, a pipelined request behind an
unfinished one, a client that does not read its answers, a handler that returns None (the
route answers), and every other path.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, ClassVar, cast

from starlette.types import Scope
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, RequestResponseCycle

from stellwerk.kit.bounded_http import BoundedHeadProtocol
from stellwerk.middleware import (
    ALWAYS_HEAD,
    JSON_HEAD,
    MAX_FAST_BODY,
    Answer,
    FastPaths,
    answered,
    fast_request_id,
)


def fast_protocol(paths: FastPaths) -> type[FastPathProtocol]:
    """The protocol class uvicorn is given (`http=`), answering `paths`."""
    return type("FastPathProtocol", (FastPathProtocol,), {"paths": paths})


class FastPathProtocol(BoundedHeadProtocol):
    paths: ClassVar[FastPaths]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._fast: tuple[RequestResponseCycle, float] | None = None  # held, and since when
        self._in_head = False
        super().connection_made(transport)

    def on_headers_complete(self) -> None:
        self._in_head = True
        try:
            super().on_headers_complete()  # makes the cycle; starts its task unless held here
        finally:
            self._in_head = False

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        if (
            self._in_head
            and app is self.app
            and not cycle.waiting_for_100_continue
            and self.paths.wants(cast(Scope, cycle.scope))
        ):
            self._fast = cycle, time.perf_counter()  # held until its body is read
            return
        super()._start_asgi_task(cycle, app)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        if self._fast is not None and len(self._fast[0].body) > MAX_FAST_BODY:
            cycle, self._fast = self._fast[0], None
            self._ordinary(cycle)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        held, self._fast = self._fast, None
        if held is None or held[0].response_complete:
            return
        cycle, since = held
        if self.flow.write_paused or self.transport.is_closing():
            self._ordinary(cycle)  # the ordinary path waits until the client reads again
            return
        task = self.loop.create_task(self._answer(cycle, since))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    async def _answer(self, cycle: RequestResponseCycle, since: float) -> None:
        try:
            answer = await self.paths.answer(cast(Scope, cycle.scope), bytes(cycle.body))
        except asyncio.CancelledError:  # the server stops: the connection with it
            self.transport.close()
            raise
        self._finish(cycle, since, answer)  # `answer` raises nothing else: failures are 500s

    def _finish(self, cycle: RequestResponseCycle, since: float, answer: Answer | None) -> None:
        if answer is None:
            self._ordinary(cycle)  # the route answers (the request counts as tried)
            return
        if cycle.disconnected:
            return
        scope = cast(Scope, cycle.scope)
        status, payload, extra = answer
        request_id = fast_request_id(scope)
        # The same headers as `answer_headers`, in its order, the constant ones joined once.
        content = [
            STATUS_LINE[status],
            _server_head(self.server_state.default_headers),
            JSON_HEAD,
            b"content-length: ",
            str(len(payload)).encode(),
            b"\r\n",
        ]
        for name, value in extra:
            content += (name, b": ", value, b"\r\n")
        content += (b"x-request-id: ", request_id.encode(), b"\r\n", ALWAYS_HEAD)
        if not cycle.keep_alive:
            content.append(b"connection: close\r\n")
        content += (b"\r\n", payload)
        cycle.response_started = cycle.response_complete = True
        self.transport.write(b"".join(content))
        answered(scope, status, request_id, since)
        if not cycle.keep_alive:
            self.transport.close()
        self.on_response_complete()

    def _ordinary(self, cycle: RequestResponseCycle) -> None:
        super()._start_asgi_task(cycle, self.app)


_server_heads: list[tuple[object, bytes]] = [((), b"")]


def _server_head(default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """The server's own headers (`date`, `server`) as they go out: the server makes a new list
    when the date changes, so they are joined once per list."""
    known, head = _server_heads[0]
    if known is not default_headers:
        head = b"".join(name + b": " + value + b"\r\n" for name, value in default_headers)
        _server_heads[0] = (default_headers, head)
    return head

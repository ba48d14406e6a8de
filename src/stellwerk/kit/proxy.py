"""A reverse proxy for one request: HTTP with streamed bodies both ways, and WebSockets.

What the upstream must not see (the caller's credentials) and what it must not set (the
caller's session cookie) is the caller's to name; hop-by-hop headers never pass.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from http.cookies import CookieError, SimpleCookie

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

# RFC 9110 §7.6.1, plus the headers a proxy sets itself.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
WEBSOCKET_OWN = frozenset(
    {
        "sec-websocket-key",
        "sec-websocket-version",
        "sec-websocket-extensions",
        "sec-websocket-protocol",
        "sec-websocket-accept",
    }
)
FORWARDED = ("x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-prefix")


class UpstreamUnreachable(Exception):
    """The upstream did not answer (refused, timed out, or broke off)."""


def _without_cookies(value: str, names: Iterable[str]) -> str:
    kept = []
    for part in value.split(";"):
        name = part.split("=", 1)[0].strip()
        if name and name not in names:
            kept.append(part.strip())
    return "; ".join(kept)


def request_headers(
    headers: Iterable[tuple[str, str]],
    *,
    drop: Iterable[str],
    drop_cookies: Iterable[str],
    add: dict[str, str],
    websocket: bool = False,
) -> list[tuple[str, str]]:
    """The caller's headers as the upstream gets them."""
    dropped = {*HOP_BY_HOP, *FORWARDED, *(d.lower() for d in drop), *add}
    if websocket:
        dropped |= WEBSOCKET_OWN
    cookies = set(drop_cookies)
    forwarded: list[tuple[str, str]] = []
    for name, value in headers:
        lower = name.lower()
        if lower in dropped:
            continue
        if lower == "cookie":
            value = _without_cookies(value, cookies)
            if not value:
                continue
        forwarded.append((lower, value))
    return forwarded + list(add.items())


def _sets_cookie(value: str, names: set[str]) -> bool:
    try:
        cookie = SimpleCookie(value)
    except CookieError:
        return True  # unreadable: it might set anything
    return bool(set(cookie) & names)


def response_headers(
    headers: Iterable[tuple[bytes, bytes]],
    *,
    drop_cookies: Iterable[str],
    location: Callable[[str], str],
) -> list[tuple[bytes, bytes]]:
    names = set(drop_cookies)
    kept: list[tuple[bytes, bytes]] = []
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        if name in HOP_BY_HOP:
            continue
        if name == "set-cookie" and _sets_cookie(value, names):
            continue
        if name == "location":
            value = location(value)
        kept.append((name.encode("latin-1"), value.encode("latin-1")))
    return kept


async def forward_http(
    client: httpx.AsyncClient,
    request: Request,
    url: str,
    headers: list[tuple[str, str]],
    *,
    drop_cookies: Iterable[str],
    location: Callable[[str], str],
) -> StreamingResponse:
    """Send the request on to `url`, body streamed, and stream the answer back."""
    has_body = request.method not in ("GET", "HEAD", "OPTIONS") or "content-length" in {
        n for n, _ in headers
    }
    outgoing = client.build_request(
        request.method,
        url,
        headers=headers,
        content=request.stream() if has_body else None,
    )
    try:
        upstream = await client.send(outgoing, stream=True)
    except httpx.HTTPError as error:
        raise UpstreamUnreachable(str(error) or type(error).__name__) from error

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        except httpx.HTTPError:
            return  # the upstream broke off: end the answer where it ended

    response = StreamingResponse(
        body(), status_code=upstream.status_code, background=BackgroundTask(upstream.aclose)
    )
    response.raw_headers = response_headers(
        upstream.headers.raw, drop_cookies=drop_cookies, location=location
    )
    return response


async def forward_websocket(
    websocket: WebSocket,
    url: str,
    headers: list[tuple[str, str]],
    subprotocols: list[str],
) -> None:
    """Open `url` as a WebSocket, accept the caller with the upstream's subprotocol, and carry
    messages both ways until either side closes (its close code passes on)."""
    try:
        upstream = await connect(
            url,
            additional_headers=headers,
            subprotocols=subprotocols or None,  # type: ignore[arg-type]
            open_timeout=10,
            max_size=None,
            proxy=None,
        )
    except (OSError, TimeoutError, InvalidHandshake) as error:
        detail = (
            f"it answered {error.response.status_code}"
            if isinstance(error, InvalidStatus)
            else str(error) or type(error).__name__
        )
        raise UpstreamUnreachable(detail) from error
    async with upstream:
        await websocket.accept(subprotocol=upstream.subprotocol)
        tasks = [
            asyncio.create_task(_to_upstream(websocket, upstream)),
            asyncio.create_task(_to_caller(websocket, upstream)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


async def _to_upstream(websocket: WebSocket, upstream: ClientConnection) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            await upstream.close(code=int(message.get("code") or 1000))
            return
        if message.get("text") is not None:
            await upstream.send(message["text"])
        elif message.get("bytes") is not None:
            await upstream.send(message["bytes"])


async def _to_caller(websocket: WebSocket, upstream: ClientConnection) -> None:
    try:
        async for message in upstream:
            if isinstance(message, str):
                await websocket.send_text(message)
            else:
                await websocket.send_bytes(message)
    except ConnectionClosed:
        pass
    code = upstream.close_code or 1000
    with contextlib.suppress(RuntimeError, WebSocketDisconnect):
        await websocket.close(
            code=code if code != 1006 else 1011, reason=upstream.close_reason or ""
        )

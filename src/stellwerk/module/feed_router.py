"""The module manager's live feed over HTTP: server-sent events at `/modules/events`, the
WebSocket `/ws/module_feed`, and the tickets browsers open the WebSocket with.

The WebSocket takes its credential from, in this order: a `ticket` query parameter (from
`POST /modules/feed-ticket`), `Authorization: Bearer …`, a `bearer.<token>` entry among the
offered subprotocols (the server then selects `stellwerk.module_feed`, which a browser client
must offer too), or the web session cookie (only from a page of Stellwerk itself or of an origin
in `STELLWERK_CORS_ORIGINS`). It needs `read:modules`, as the other module routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request, WebSocket
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from stellwerk.database import SessionDep
from stellwerk.exceptions import Forbidden, StellwerkError
from stellwerk.identity.auth import (
    SESSION_COOKIE,
    AuthSubject,
    RuntimeDep,
    client_ip,
    resolve_credential,
)
from stellwerk.kit.origin import origin_allowed
from stellwerk.module.auth import ModulesReader, modules_reader, visible_owner
from stellwerk.module.feed import Event, module_events, server_sent
from stellwerk.module.service import module_instance
from stellwerk.module.tickets import TICKET_SECONDS, Credential, feed_ticket
from stellwerk.runtime import Runtime
from stellwerk.surface import Surface, error_body, error_responses

router = APIRouter(tags=["modules"], responses=error_responses(Surface.GENERIC))

FEED_PATH = "/ws/module_feed"
FEED_PROTOCOL = "stellwerk.module_feed"
BEARER_PROTOCOL = "bearer."
# Close codes: 1008 the credential stopped being valid; 1000 an operation's feed ended.
POLICY_VIOLATION = 1008


class FeedTicket(BaseModel):
    ticket: str = Field(description="Open the WebSocket with `?ticket=` this, once")
    expires_in: int = Field(description="Seconds the ticket stays valid")
    url: str = Field(description="The WebSocket's path with the ticket")


@router.get(
    "/modules/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def operation_events(
    request: Request,
    subject: ModulesReader,
    session: SessionDep,
    runtime: RuntimeDep,
    operation_id: Annotated[
        str | None, Query(description="Only this operation; the stream ends when it finishes")
    ] = None,
) -> StreamingResponse:
    """Live feed (server-sent events) of the module operations you may see (all for the
    company) and of the instances' status: the same events as the WebSocket
    `/ws/module_feed`, one `event: <type>` with `data: <json>` each. The credential is checked
    again every `STELLWERK_MODULE_EVENTS_RECHECK_SECONDS`; once it is revoked or expired the
    stream sends `event: end` and closes."""
    owner = visible_owner(subject)
    parsed: uuid.UUID | None = None
    if operation_id is not None:
        parsed = (await module_instance.operation(session, operation_id, owner_user_id=owner)).id

    async def recheck() -> int | None:
        request.state.auth_subject = None  # authenticate afresh, not from this request's cache
        async with runtime.database.session() as check_session:
            again = await modules_reader(request, check_session)
        return visible_owner(again)

    events = module_events(
        runtime.database,
        runtime.settings,
        owner_user_id=owner,
        recheck=recheck,
        recheck_seconds=runtime.settings.module_events_recheck_seconds,
        operation_id=parsed,
    )
    return StreamingResponse(
        server_sent(events),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.post("/modules/feed-ticket", response_model=FeedTicket)
async def create_feed_ticket(
    request: Request, subject: ModulesReader, runtime: RuntimeDep
) -> FeedTicket:
    """A ticket that opens the WebSocket `/ws/module_feed?ticket=…` once, within
    30 seconds, as the credential that asked for it (browsers cannot set headers on a
    WebSocket). The feed ends when that credential is revoked."""
    credential = Credential(
        authorization=request.headers.get("authorization"),
        cookie=None
        if request.headers.get("authorization")
        else request.cookies.get(SESSION_COOKIE),
    )
    ticket = feed_ticket.issue(runtime, credential)
    return FeedTicket(ticket=ticket, expires_in=TICKET_SECONDS, url=f"{FEED_PATH}?ticket={ticket}")


def _offered(websocket: WebSocket) -> list[str]:
    header = websocket.headers.get("sec-websocket-protocol", "")
    return [p.strip() for p in header.split(",") if p.strip()]


async def _credential(websocket: WebSocket, runtime: Runtime, ticket: str | None) -> Credential:
    if ticket:
        async with runtime.database.session() as session:
            return await feed_ticket.redeem(session, runtime, ticket)
    authorization = websocket.headers.get("authorization")
    if authorization:
        return Credential(authorization=authorization)
    for protocol in _offered(websocket):
        if protocol.startswith(BEARER_PROTOCOL):
            return Credential(authorization=f"Bearer {protocol.removeprefix(BEARER_PROTOCOL)}")
    cookie = websocket.cookies.get(SESSION_COOKIE)
    if cookie:
        allowed = runtime.settings.cors_origin_list
        if not origin_allowed(
            websocket.headers.get("origin"), websocket.headers.get("host"), allowed
        ):
            raise Forbidden(
                "A session opens the feed only from Stellwerk's own pages (or an allowed origin)",
                code="origin_refused",
            )
        return Credential(cookie=cookie)
    return Credential()


async def _caller(websocket: WebSocket, runtime: Runtime, credential: Credential) -> AuthSubject:
    async with runtime.database.session() as session:
        subject = await resolve_credential(
            session,
            runtime,
            authorization=credential.authorization,
            cookie=credential.cookie,
            ip=client_ip(websocket),
        )
    return modules_reader.check(subject)


async def _refuse(websocket: WebSocket, error: StellwerkError) -> None:
    """Answer the handshake with the error in the generic envelope (or a policy close where the
    server cannot answer a handshake with a body)."""
    if "websocket.http.response" in websocket.scope.get("extensions", {}):
        body = error_body(error, Surface.GENERIC)
        await websocket.send_denial_response(
            JSONResponse(body, status_code=error.status, headers=error.headers)
        )
        return
    await websocket.close(code=POLICY_VIOLATION, reason=error.code)


@router.websocket(FEED_PATH)
async def module_feed(
    websocket: WebSocket,
    runtime: RuntimeDep,
    ticket: Annotated[str | None, Query(max_length=1000)] = None,
    operation_id: Annotated[str | None, Query(max_length=64)] = None,
) -> None:
    """The live feed as JSON messages (see `stellwerk.module.feed` for the events). Send
    `{"type": "ping"}` to get `{"type": "pong"}`. The socket closes with 1008 after an `end`
    event once its credential stops being valid, and with 1000 when the operation named by
    `operation_id` has finished."""
    try:
        credential = await _credential(websocket, runtime, ticket)
        subject = await _caller(websocket, runtime, credential)
        owner = visible_owner(subject)
        parsed: uuid.UUID | None = None
        if operation_id is not None:
            async with runtime.database.session() as session:
                found = await module_instance.operation(session, operation_id, owner_user_id=owner)
            parsed = found.id
    except StellwerkError as error:
        await _refuse(websocket, error)
        return
    await websocket.accept(
        subprotocol=FEED_PROTOCOL if FEED_PROTOCOL in _offered(websocket) else None
    )

    async def recheck() -> int | None:
        return visible_owner(await _caller(websocket, runtime, credential))

    events = module_events(
        runtime.database,
        runtime.settings,
        owner_user_id=owner,
        recheck=recheck,
        recheck_seconds=runtime.settings.module_events_recheck_seconds,
        operation_id=parsed,
    )
    sending = asyncio.Lock()

    async def send(event: Event) -> None:
        async with sending:
            await websocket.send_text(orjson.dumps(event).decode())

    async def forward() -> None:
        async for event in events:
            await send(event)
            if event["type"] == "end":
                await websocket.close(code=POLICY_VIOLATION, reason=str(event["code"])[:100])
                return
        await websocket.close(code=1000)

    async def listen() -> None:
        while True:
            message = await websocket.receive_text()
            with contextlib.suppress(orjson.JSONDecodeError):
                if isinstance(parsed_message := orjson.loads(message), dict) and (
                    parsed_message.get("type") == "ping"
                ):
                    await send({"type": "pong"})

    tasks = [asyncio.create_task(forward()), asyncio.create_task(listen())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            # Whatever ended the other side (a disconnect, a closed socket) ends this one too.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(RuntimeError):
            await events.aclose()

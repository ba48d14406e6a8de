"""Tickets for the module feed's WebSocket: browsers cannot set headers on a WebSocket, so a
client asks `POST /modules/feed-ticket` (with its token) and opens `/ws/module_feed?ticket=…`.

A ticket is the asking credential, encrypted under a key derived from the master key, with its
time of issue: nothing is stored until it is used, no one can read the credential out of it,
it expires after `TICKET_SECONDS`, and it opens one feed once (its nonce is remembered until
then, in the database, so every process agrees). The feed it opens is the credential's: it ends
when that credential is revoked.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import orjson
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.exceptions import Unauthorized
from stellwerk.kit.time import utc_now
from stellwerk.module.repository import ModuleFeedTicketRepository
from stellwerk.runtime import Runtime

TICKET_SECONDS = 30
PURPOSE = "module-feed-ticket:v1"


@dataclass(frozen=True)
class Credential:
    """What a request authenticated with: an `Authorization` value or a session cookie."""

    authorization: str | None = None
    cookie: str | None = None


class InvalidTicket(Unauthorized):
    default_code = "invalid_ticket"


class FeedTicketService:
    def _fernet(self, runtime: Runtime) -> Fernet:
        return Fernet(base64.urlsafe_b64encode(runtime.key_for(PURPOSE)))

    def issue(self, runtime: Runtime, credential: Credential) -> str:
        payload = {
            "a": credential.authorization,
            "c": credential.cookie,
            "n": secrets.token_urlsafe(16),
        }
        return self._fernet(runtime).encrypt(orjson.dumps(payload)).decode()

    async def redeem(self, session: AsyncSession, runtime: Runtime, ticket: str) -> Credential:
        """The credential a ticket carries, once; expired, forged and used tickets are 401."""
        try:
            data = orjson.loads(self._fernet(runtime).decrypt(ticket.encode(), ttl=TICKET_SECONDS))
        except (InvalidToken, ValueError) as error:
            raise InvalidTicket("The feed ticket is invalid or has expired") from error
        nonce = hashlib.sha256(str(data.get("n", "")).encode()).hexdigest()
        expires_at = utc_now() + dt.timedelta(seconds=TICKET_SECONDS + 5)
        if not await ModuleFeedTicketRepository(session).use(nonce, expires_at):
            raise InvalidTicket("The feed ticket was used already; ask for a new one")
        return Credential(authorization=data.get("a"), cookie=data.get("c"))


feed_ticket = FeedTicketService()

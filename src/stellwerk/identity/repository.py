"""All SQL for users, tokens, web sessions and the system API key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from stellwerk.identity.principal import Principal
from stellwerk.kit.query import paginate
from stellwerk.kit.time import utc_now
from stellwerk.models import ApiToken, SystemApiKey, User, WebSession


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def count(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(User)) or 0)

    async def get(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def get_by_username(self, username: str) -> User | None:
        return await self.session.scalar(
            select(User).where(func.lower(User.username) == username.lower())
        )

    async def list(self, *, offset: int, limit: int) -> tuple[Sequence[User], int]:
        total = int(await self.session.scalar(select(func.count()).select_from(User)) or 0)
        rows = await self.session.scalars(
            select(User).order_by(User.id).offset(offset).limit(limit)
        )
        return rows.all(), total

    async def count_admins(self) -> int:
        statement = (
            select(func.count())
            .select_from(User)
            .where(User.role == "admin", User.is_active.is_(True))
        )
        return int(await self.session.scalar(statement) or 0)

    async def add(self, user: User) -> User:
        self.session.add(user)
        await self.session.flush()
        return user

    async def delete(self, user: User) -> None:
        await self.session.delete(user)
        await self.session.flush()


class TokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_by_hash(self, token_hash: str) -> ApiToken | None:
        return await self.session.scalar(
            select(ApiToken)
            .options(joinedload(ApiToken.user))
            .where(ApiToken.token_hash == token_hash)
        )

    @staticmethod
    def readable(principal: Principal) -> Select[ApiToken]:
        """The tokens `principal` may see: their own; every user's for admins."""
        statement = select(ApiToken)
        if not principal.is_admin:
            statement = statement.where(ApiToken.user_id == principal.user_id)
        return statement

    async def get(self, principal: Principal, token_id: int) -> ApiToken | None:
        return await self.session.scalar(self.readable(principal).where(ApiToken.id == token_id))

    async def list(
        self, principal: Principal, *, offset: int, limit: int
    ) -> tuple[Sequence[ApiToken], int]:
        statement = self.readable(principal).order_by(ApiToken.id.desc())
        return await paginate(self.session, statement, offset=offset, limit=limit)

    async def add(self, token: ApiToken) -> ApiToken:
        self.session.add(token)
        await self.session.flush()
        return token

    async def touch(self, token_id: int, at: dt.datetime) -> None:
        await self.session.execute(
            update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=at)
        )


class WebSessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_by_hash(self, session_hash: str) -> WebSession | None:
        return await self.session.scalar(
            select(WebSession).where(WebSession.session_hash == session_hash)
        )

    async def add(self, web_session: WebSession) -> WebSession:
        self.session.add(web_session)
        await self.session.flush()
        return web_session

    async def delete_by_hash(self, session_hash: str) -> None:
        await self.session.execute(
            delete(WebSession).where(WebSession.session_hash == session_hash)
        )

    async def delete_for_user(self, user_id: int) -> None:
        await self.session.execute(delete(WebSession).where(WebSession.user_id == user_id))

    async def delete_expired(self) -> None:
        await self.session.execute(delete(WebSession).where(WebSession.expires_at < utc_now()))


class SystemApiKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_active(self) -> SystemApiKey | None:
        return await self.session.scalar(
            select(SystemApiKey).where(SystemApiKey.revoked_at.is_(None))
        )

    async def get_active_by_hash(self, key_hash: str) -> SystemApiKey | None:
        return await self.session.scalar(
            select(SystemApiKey).where(
                SystemApiKey.key_hash == key_hash, SystemApiKey.revoked_at.is_(None)
            )
        )

    async def revoke_all(self, at: dt.datetime) -> None:
        await self.session.execute(
            update(SystemApiKey)
            .where(SystemApiKey.revoked_at.is_(None))
            .values(revoked_at=at, is_current=None)
        )
        await self.session.flush()

    async def add(self, key: SystemApiKey) -> SystemApiKey:
        self.session.add(key)
        await self.session.flush()
        return key

"""Factories: create what a test needs through the services, with sensible defaults."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence

from stellwerk.audit.actor import Actor
from stellwerk.identity import service as identity_service
from stellwerk.identity.repository import UserRepository
from stellwerk.kit.secret import hash_password
from stellwerk.models import User
from stellwerk.runtime import Runtime

_counter = itertools.count(1)
DEFAULT_PASSWORD = "correct-horse-battery"


@functools.cache
def _password_hash(password: str) -> str:
    # argon2id is slow by design; tests hash each password once.
    return hash_password(password)


async def create_user(
    runtime: Runtime,
    *,
    username: str | None = None,
    password: str = DEFAULT_PASSWORD,
    role: str = "customer",
) -> User:
    async with runtime.database.session() as session:
        return await UserRepository(session).add(
            User(
                username=username or f"user{next(_counter)}",
                password_hash=_password_hash(password),
                role=role,
            )
        )


async def create_admin(runtime: Runtime, *, username: str | None = None) -> User:
    return await create_user(runtime, username=username or f"admin{next(_counter)}", role="admin")


async def create_staff(runtime: Runtime, *, username: str | None = None) -> User:
    return await create_user(runtime, username=username or f"staff{next(_counter)}", role="staff")


async def create_token(
    runtime: Runtime, user: User, scopes: Sequence[str], *, name: str = "test"
) -> str:
    async with runtime.database.session() as session:
        _, plain = await identity_service.token.create(
            session, Actor.system(), user, name=name, scopes=scopes
        )
    return plain


def jwt_for(runtime: Runtime, user: User) -> str:
    return identity_service.access_token.issue(
        user, key=runtime.key_for("jwt"), expires_in=3600
    ).token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def admin_headers(runtime: Runtime) -> dict[str, str]:
    return bearer(jwt_for(runtime, await create_admin(runtime)))


async def create_api_key(runtime: Runtime) -> str:
    async with runtime.database.session() as session:
        _, plain = await identity_service.system_api_key.rotate(session, Actor.system())
    return plain

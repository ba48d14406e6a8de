"""Users and their credentials: passwords, JWTs, web sessions, API tokens, the system API key."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import jwt
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.exceptions import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from stellwerk.identity.principal import Principal
from stellwerk.identity.repository import (
    SystemApiKeyRepository,
    TokenRepository,
    UserRepository,
    WebSessionRepository,
)
from stellwerk.identity.role import DEFAULT_ROLE, ROLES, parse_role, scopes_for_role
from stellwerk.identity.scope import ALL_SCOPES
from stellwerk.kit.pagination import PageParams
from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.kit.secret import (
    hash_password,
    hash_token,
    password_needs_rehash,
    random_string,
    verify_password,
)
from stellwerk.kit.time import as_utc, utc_now
from stellwerk.models import ApiToken, SystemApiKey, User, WebSession

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,149}$")
MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "nrx_"
TOKEN_PATTERN = re.compile(r"^nrx_[0-9a-f]{64}$")
API_KEY_PATTERN = re.compile(r"^AF-\d{4}-[A-Za-z0-9]{32}$")
JWT_ALGORITHM = "HS256"


class InvalidCredentials(Unauthorized):
    default_code = "invalid_credentials"

    def __init__(self) -> None:
        # The same answer whether the user exists or not.
        super().__init__("Invalid username or password")


def _check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"The password needs at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )


def _role(value: str) -> str:
    try:
        return parse_role(value).value
    except ValueError as error:
        raise ValidationFailed(f"The role is one of {', '.join(ROLES)}", field="role") from error


class UserService:
    async def create(
        self,
        session: AsyncSession,
        actor: Actor,
        *,
        username: str,
        password: str,
        role: str = DEFAULT_ROLE,
        email: str | None = None,
        server_quota: int | None = None,
    ) -> User:
        if not USERNAME_PATTERN.fullmatch(username):
            raise ValidationFailed(
                "A username is 1-150 letters, digits or _ . @ -, starting with a letter or digit",
                field="username",
            )
        role = _role(role)
        _check_password_strength(password)
        repository = UserRepository(session)
        if await repository.get_by_username(username):
            raise Conflict(
                f"The username {username} is taken", code="username_taken", field="username"
            )
        user = User(
            username=username,
            email=email,
            password_hash=hash_password(password),
            role=role,
            server_quota=server_quota,
        )
        try:
            async with session.begin_nested():
                await repository.add(user)
        except IntegrityError as error:
            raise Conflict(
                f"The username {username} is taken", code="username_taken", field="username"
            ) from error
        await audit.record(
            session,
            actor,
            "user.create",
            target_type="user",
            target_id=user.id,
            detail={"username": username, "role": role},
        )
        return user

    async def authenticate(
        self,
        session: AsyncSession,
        limiter: RateLimiter,
        *,
        username: str,
        password: str,
        ip: str | None,
        limit: str,
    ) -> User:
        # Count the attempt before checking it, per account and per address alike.
        await limiter.hit(limit, "login-account", username.lower())
        if ip:
            await limiter.hit(limit, "login-ip", ip)
        user = await UserRepository(session).get_by_username(username)
        valid = verify_password(user.password_hash if user else None, password)
        if user is None or not valid or not user.is_active:
            raise InvalidCredentials()
        if password_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.last_login_at = utc_now()
        await session.flush()
        return user

    async def get(self, session: AsyncSession, user_id: int) -> User:
        user = await UserRepository(session).get(user_id)
        if user is None:
            raise NotFound(f"No user with id {user_id}")
        return user

    async def list(
        self, session: AsyncSession, *, params: PageParams
    ) -> tuple[Sequence[User], int]:
        return await UserRepository(session).list(offset=params.offset, limit=params.per_page)

    async def update(
        self,
        session: AsyncSession,
        actor: Actor,
        user: User,
        *,
        username: str | None = None,
        email: str | None = None,
        role: str | None = None,
        is_active: bool | None = None,
        password: str | None = None,
        server_quota: int | None = None,
        reset_server_quota: bool = False,
    ) -> User:
        changes: dict[str, object] = {}
        if username is not None and username != user.username:
            await self._rename(session, user, username)
            changes["username"] = username
        wants_quota = server_quota is not None or reset_server_quota
        if wants_quota and server_quota != user.server_quota:
            user.server_quota = server_quota
            changes["server_quota"] = server_quota
        if role is not None:
            role = _role(role)
        if role is not None and role != user.role:
            await self._keep_an_admin(session, user)
            user.role = role
            changes["role"] = role
        if is_active is not None and is_active != user.is_active:
            if not is_active:
                await self._keep_an_admin(session, user)
            user.is_active = is_active
            changes["is_active"] = is_active
        if email is not None:
            user.email = email
            changes["email"] = email
        if password is not None:
            await self.set_password(session, actor, user, password)
        await session.flush()
        if changes:
            await audit.record(
                session,
                actor,
                "user.update",
                target_type="user",
                target_id=user.id,
                detail=changes,
            )
        return user

    async def _rename(self, session: AsyncSession, user: User, username: str) -> None:
        if not USERNAME_PATTERN.fullmatch(username):
            raise ValidationFailed(
                "A username is 1-150 letters, digits or _ . @ -, starting with a letter or digit",
                field="username",
            )
        taken = Conflict(
            f"The username {username} is taken", code="username_taken", field="username"
        )
        other = await UserRepository(session).get_by_username(username)
        if other is not None and other.id != user.id:
            raise taken
        user.username = username
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError as error:
            raise taken from error

    async def set_password(
        self, session: AsyncSession, actor: Actor, user: User, password: str
    ) -> None:
        """Set a new password and void every JWT and web session issued before."""
        _check_password_strength(password)
        user.password_hash = hash_password(password)
        user.credential_generation += 1
        await WebSessionRepository(session).delete_for_user(user.id)
        await session.flush()
        await audit.record(
            session, actor, "user.password_change", target_type="user", target_id=user.id
        )

    async def delete(self, session: AsyncSession, actor: Actor, user: User) -> None:
        if actor.user_id == user.id:
            raise Conflict("You cannot delete your own account", code="self_delete")
        await self._keep_an_admin(session, user)
        await UserRepository(session).delete(user)
        await audit.record(
            session,
            actor,
            "user.delete",
            target_type="user",
            target_id=user.id,
            detail={"username": user.username},
        )

    async def _keep_an_admin(self, session: AsyncSession, user: User) -> None:
        if user.is_admin and await UserRepository(session).count_admins() <= 1:
            raise Conflict("Stellwerk needs at least one active admin", code="last_admin")


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int


class AccessTokenService:
    """Short-lived JWT bearer tokens; a password change voids them through the generation claim."""

    def issue(self, user: User, *, key: bytes, expires_in: int) -> AccessToken:
        now = utc_now()
        claims = {
            "sub": str(user.id),
            "gen": user.credential_generation,
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + expires_in,
            "typ": "access",
        }
        return AccessToken(jwt.encode(claims, key, algorithm=JWT_ALGORITHM), expires_in)

    async def resolve(self, session: AsyncSession, token: str, *, key: bytes) -> User:
        try:
            claims = jwt.decode(
                token, key, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "sub"]}
            )
        except jwt.ExpiredSignatureError as error:
            raise Unauthorized("The access token has expired", code="token_expired") from error
        except jwt.InvalidTokenError as error:
            raise Unauthorized("The access token is invalid", code="invalid_token") from error
        user = await UserRepository(session).get(int(claims["sub"]))
        if user is None or not user.is_active or claims.get("gen") != user.credential_generation:
            raise Unauthorized("The access token is no longer valid", code="invalid_token")
        return user


class WebSessionService:
    async def create(
        self, session: AsyncSession, user: User, *, ip: str | None, expires_in: int
    ) -> tuple[str, WebSession]:
        cookie = secrets.token_urlsafe(32)
        web_session = WebSession(
            session_hash=hash_token(cookie),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            credential_generation=user.credential_generation,
            expires_at=utc_now() + dt.timedelta(seconds=expires_in),
            ip=ip,
        )
        await WebSessionRepository(session).add(web_session)
        return cookie, web_session

    async def resolve(self, session: AsyncSession, cookie: str) -> tuple[WebSession, User] | None:
        web_session = await WebSessionRepository(session).get_by_hash(hash_token(cookie))
        if web_session is None or as_utc(web_session.expires_at) < utc_now():
            return None
        user = await UserRepository(session).get(web_session.user_id)
        if (
            user is None
            or not user.is_active
            or user.credential_generation != web_session.credential_generation
        ):
            return None
        return web_session, user

    async def destroy(self, session: AsyncSession, cookie: str) -> None:
        await WebSessionRepository(session).delete_by_hash(hash_token(cookie))


class TokenService:
    async def create(
        self,
        session: AsyncSession,
        actor: Actor,
        user: User,
        *,
        name: str,
        scopes: Sequence[str],
        expires_at: dt.datetime | None = None,
        grantable: frozenset[str] | None = None,
    ) -> tuple[ApiToken, str]:
        """A new `nrx_` token; the plain value is returned once and only its hash is kept.

        A token carries only scopes its owner holds, and, when issued through another token,
        only scopes that token holds (`grantable`).
        """
        requested = set(scopes)
        if not requested:
            raise ValidationFailed("A token needs at least one scope", field="scopes")
        unknown = requested - ALL_SCOPES
        if unknown:
            raise ValidationFailed(
                f"Unknown scope: {', '.join(sorted(unknown))}",
                field="scopes",
                extra={"allowed": sorted(ALL_SCOPES)},
            )
        held = scopes_for_role(user.role)
        if grantable is not None:
            held = held & grantable if "admin" not in grantable else held
        beyond = requested - held
        if beyond:
            raise Forbidden(
                f"You cannot grant scopes you do not hold: {', '.join(sorted(beyond))}",
                code="scope_not_held",
            )
        if expires_at is not None and as_utc(expires_at) <= utc_now():
            raise ValidationFailed("The expiry lies in the past", field="expires_at")
        if not name.strip() or len(name) > 100:
            raise ValidationFailed("A token name is 1-100 characters", field="name")
        plain = TOKEN_PREFIX + secrets.token_hex(32)
        token = ApiToken(
            user_id=user.id,
            name=name.strip(),
            token_hash=hash_token(plain),
            prefix=plain[:12],
            scopes=sorted(requested),
            expires_at=expires_at,
        )
        await TokenRepository(session).add(token)
        await audit.record(
            session,
            actor,
            "token.create",
            target_type="api_token",
            target_id=token.id,
            detail={"name": token.name, "scopes": token.scopes, "user_id": user.id},
        )
        return token, plain

    async def resolve(self, session: AsyncSession, plain: str) -> ApiToken:
        if not TOKEN_PATTERN.fullmatch(plain):
            raise Unauthorized("The token is invalid", code="invalid_token")
        token = await TokenRepository(session).get_by_hash(hash_token(plain))
        if token is None or token.revoked_at is not None or not token.user.is_active:
            raise Unauthorized("The token is invalid or revoked", code="invalid_token")
        if token.expires_at is not None and as_utc(token.expires_at) <= utc_now():
            raise Unauthorized("The token has expired", code="token_expired")
        now = utc_now()
        # One write a minute per token at most, not one per request.
        if token.last_used_at is None or now - as_utc(token.last_used_at) > dt.timedelta(minutes=1):
            await TokenRepository(session).touch(token.id, now)
        return token

    async def list(
        self, session: AsyncSession, principal: Principal, *, params: PageParams
    ) -> tuple[Sequence[ApiToken], int]:
        return await TokenRepository(session).list(
            principal, offset=params.offset, limit=params.per_page
        )

    async def revoke(
        self, session: AsyncSession, actor: Actor, principal: Principal, *, token_id: int
    ) -> ApiToken:
        """Revoke one of the tokens `principal` may see."""
        token = await TokenRepository(session).get(principal, token_id)
        if token is None:
            raise NotFound(f"No token with id {token_id}")
        if token.revoked_at is None:
            token.revoked_at = utc_now()
            await session.flush()
            await audit.record(
                session,
                actor,
                "token.revoke",
                target_type="api_token",
                target_id=token.id,
                detail={"name": token.name},
            )
        return token


class SystemApiKeyService:
    """The one `AF-<YYYY>-<32 chars>` key for license clients; only its hash is stored."""

    def _generate(self) -> str:
        return f"AF-{utc_now().year}-{random_string(32)}"

    async def ensure(self, session: AsyncSession) -> str | None:
        """Create the first key; returns it in plain text once, or None if one exists."""
        repository = SystemApiKeyRepository(session)
        if await repository.get_active() is not None:
            return None
        plain = self._generate()
        await repository.add(SystemApiKey(key_hash=hash_token(plain), prefix=plain[:12]))
        await audit.record(session, Actor.system(), "api_key.create", target_type="api_key")
        return plain

    async def rotate(self, session: AsyncSession, actor: Actor) -> tuple[SystemApiKey, str]:
        """Replace the active key; the old one stops working at once."""
        repository = SystemApiKeyRepository(session)
        await repository.revoke_all(utc_now())
        plain = self._generate()
        key = await repository.add(SystemApiKey(key_hash=hash_token(plain), prefix=plain[:12]))
        await audit.record(
            session, actor, "api_key.rotate", target_type="api_key", target_id=key.id
        )
        return key, plain

    async def verify(self, session: AsyncSession, plain: str | None) -> bool:
        if not plain or not API_KEY_PATTERN.fullmatch(plain):
            return False
        return (
            await SystemApiKeyRepository(session).get_active_by_hash(hash_token(plain)) is not None
        )

    async def active(self, session: AsyncSession) -> SystemApiKey | None:
        return await SystemApiKeyRepository(session).get_active()


user = UserService()
access_token = AccessTokenService()
web_session = WebSessionService()
token = TokenService()
system_api_key = SystemApiKeyService()

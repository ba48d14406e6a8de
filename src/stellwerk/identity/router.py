"""HTTP for logins, API tokens, users and the system API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from stellwerk.database import SessionDep
from stellwerk.exceptions import NotFound
from stellwerk.identity import service as identity_service
from stellwerk.identity.auth import (
    SESSION_COOKIE,
    AdminUser,
    Authenticated,
    RuntimeDep,
    client_ip,
)
from stellwerk.identity.schemas import (
    ApiKeyInfo,
    ApiKeyRotated,
    LoginRequest,
    LoginResponse,
    LogoutResponse,
    Me,
    PasswordChange,
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from stellwerk.identity.scope import sorted_scopes
from stellwerk.kit.pagination import Page, PageParams, page_params
from stellwerk.surface import Surface, error_responses

router = APIRouter(tags=["identity"], responses=error_responses(Surface.GENERIC))
PageDep = Annotated[PageParams, Depends(page_params)]


@router.post("/api/auth/login", response_model=LoginResponse)
async def login(
    body: LoginRequest, request: Request, session: SessionDep, runtime: RuntimeDep
) -> LoginResponse:
    """Exchange a username and password for a JWT bearer token."""
    user = await identity_service.user.authenticate(
        session,
        runtime.limiter,
        username=body.username,
        password=body.password,
        ip=client_ip(request),
        limit=runtime.settings.login_rate_limit,
    )
    issued = identity_service.access_token.issue(
        user, key=runtime.key_for("jwt"), expires_in=runtime.settings.jwt_expiry_seconds
    )
    return LoginResponse(access_token=issued.token, expires_in=issued.expires_in)


@router.post("/api/auth/logout", response_model=LogoutResponse)
async def logout(
    request: Request, response: Response, subject: Authenticated, session: SessionDep
) -> LogoutResponse:
    """End the web session (and clear its cookie). A JWT simply expires."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if subject.credential == "session" and cookie:
        await identity_service.web_session.destroy(session, cookie)
        response.delete_cookie(SESSION_COOKIE, path="/")
    return LogoutResponse()


@router.get("/api/auth/me", response_model=Me)
async def me(subject: Authenticated) -> Me:
    """The caller, with the scopes their credential carries."""
    return Me.model_validate(
        {
            **UserRead.model_validate(subject.user).model_dump(),
            "scopes": sorted_scopes(subject.scopes),
            "credential": subject.credential,
        }
    )


@router.post("/api/auth/password", response_model=LogoutResponse)
async def change_password(
    body: PasswordChange, subject: Authenticated, session: SessionDep, runtime: RuntimeDep
) -> LogoutResponse:
    """Change your password. Every JWT and web session issued before stops working."""
    await identity_service.user.authenticate(
        session,
        runtime.limiter,
        username=subject.user.username,
        password=body.current_password,
        ip=subject.ip,
        limit=runtime.settings.login_rate_limit,
    )
    await identity_service.user.set_password(
        session, subject.actor, subject.user, body.new_password
    )
    return LogoutResponse()


@router.post("/api/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
async def create_token(
    body: TokenCreate, subject: Authenticated, session: SessionDep
) -> TokenCreated:
    """Create an `nrx_` API token. The token is in this response only; store it safely."""
    token, plain = await identity_service.token.create(
        session,
        subject.actor,
        subject.user,
        name=body.name,
        scopes=body.scopes,
        expires_at=body.expires_at,
        grantable=subject.scopes if subject.credential == "token" else None,
    )
    return TokenCreated.model_validate(
        {**TokenRead.model_validate(token).model_dump(), "token": plain}
    )


@router.get("/api/tokens", response_model=Page[TokenRead])
async def list_tokens(
    subject: Authenticated, session: SessionDep, params: PageDep
) -> Page[TokenRead]:
    """Your API tokens (all users' for admins), newest first. Token values are never shown."""
    tokens, total = await identity_service.token.list(session, subject.principal, params=params)
    return Page.of([TokenRead.model_validate(t) for t in tokens], total=total, params=params)


@router.delete("/api/tokens/{token_id}", response_model=TokenRead)
async def revoke_token(token_id: int, subject: Authenticated, session: SessionDep) -> TokenRead:
    """Revoke a token; requests with it are refused from now on."""
    token = await identity_service.token.revoke(
        session, subject.actor, subject.principal, token_id=token_id
    )
    return TokenRead.model_validate(token)


@router.get("/api/admin/users", response_model=Page[UserRead])
async def list_users(_: AdminUser, session: SessionDep, params: PageDep) -> Page[UserRead]:
    users, total = await identity_service.user.list(session, params=params)
    return Page.of([UserRead.model_validate(u) for u in users], total=total, params=params)


@router.post("/api/admin/users", response_model=UserRead, status_code=status.HTTP_201_CREATED)
async def create_user(body: UserCreate, subject: AdminUser, session: SessionDep) -> UserRead:
    user = await identity_service.user.create(
        session,
        subject.actor,
        username=body.username,
        password=body.password,
        role=body.role,
        email=body.email,
        server_quota=body.server_quota,
    )
    return UserRead.model_validate(user)


@router.get("/api/admin/users/{user_id}", response_model=UserRead)
async def get_user(user_id: int, _: AdminUser, session: SessionDep) -> UserRead:
    return UserRead.model_validate(await identity_service.user.get(session, user_id))


@router.put("/api/admin/users/{user_id}", response_model=UserRead)
async def update_user(
    user_id: int, body: UserUpdate, subject: AdminUser, session: SessionDep
) -> UserRead:
    user = await identity_service.user.get(session, user_id)
    user = await identity_service.user.update(
        session,
        subject.actor,
        user,
        username=body.username,
        email=body.email,
        role=body.role,
        is_active=body.is_active,
        password=body.password,
        server_quota=body.server_quota,
        reset_server_quota="server_quota" in body.model_fields_set and body.server_quota is None,
    )
    return UserRead.model_validate(user)


@router.delete("/api/admin/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(user_id: int, subject: AdminUser, session: SessionDep) -> Response:
    user = await identity_service.user.get(session, user_id)
    await identity_service.user.delete(session, subject.actor, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/admin/api-key", response_model=ApiKeyInfo)
async def api_key_info(_: AdminUser, session: SessionDep) -> ApiKeyInfo:
    """Which system API key is active (its prefix and age; never the key)."""
    key = await identity_service.system_api_key.active(session)
    if key is None:
        raise NotFound("No system API key is active")
    return ApiKeyInfo.model_validate(key)


@router.post("/api/admin/api-key/rotate", response_model=ApiKeyRotated)
async def rotate_api_key(subject: AdminUser, session: SessionDep) -> ApiKeyRotated:
    """Replace the system API key. The old key stops working at once; the new one is shown once."""
    _, plain = await identity_service.system_api_key.rotate(session, subject.actor)
    return ApiKeyRotated(api_key=plain)

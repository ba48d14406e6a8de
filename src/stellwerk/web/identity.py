"""Pages for API tokens, users and the system API key."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from stellwerk.database import SessionDep
from stellwerk.exceptions import StellwerkError, ValidationFailed
from stellwerk.identity import service as identity_service
from stellwerk.identity.auth import RuntimeDep
from stellwerk.identity.role import Role, scopes_for_role
from stellwerk.identity.scope import sorted_scopes
from stellwerk.kit.pagination import Page
from stellwerk.runtime import Runtime
from stellwerk.web import reveal
from stellwerk.web.auth import WebAdmin, WebUser
from stellwerk.web.forms import date_or_none, field_errors, page_params, read_form, text
from stellwerk.web.templates import flash, render

router = APIRouter(include_in_schema=False)


async def _tokens_page(
    request: Request,
    subject: WebUser,
    session: SessionDep,
    *,
    page: int = 1,
    created: str | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    params = page_params(page)
    tokens, total = await identity_service.token.list(session, subject.principal, params=params)
    return render(
        request,
        "identity/tokens.html",
        {
            "tokens": tokens,
            "page": Page.of(tokens, total=total, params=params),
            "scopes": sorted_scopes(scopes_for_role(subject.user.role)),
            "created": created,
            "errors": errors or {},
        },
        status_code=status_code,
    )


@router.get("/ui/tokens", response_class=HTMLResponse)
async def tokens(
    request: Request, subject: WebUser, session: SessionDep, runtime: RuntimeDep, page: int = 1
) -> Response:
    created = reveal.take(request, runtime, kind="token")
    created = created if isinstance(created, str) else None
    response = await _tokens_page(request, subject, session, page=page, created=created)
    return reveal.forget(response, request, path="/ui/tokens", shown=created is not None)


@router.post("/ui/tokens", response_class=HTMLResponse)
async def create_token(
    request: Request, subject: WebUser, session: SessionDep, runtime: RuntimeDep
) -> Response:
    form = await read_form(request)
    try:
        _, plain = await identity_service.token.create(
            session,
            subject.actor,
            subject.user,
            name=text(form, "name"),
            scopes=[s for s in form.getlist("scopes") if isinstance(s, str)],
            expires_at=date_or_none(form, "expires_on"),
        )
    except (StellwerkError, ValueError) as error:
        errors = (
            field_errors(error)
            if isinstance(error, StellwerkError)
            else {"expires_on": "Use a date like 2027-01-31"}
        )
        return await _tokens_page(request, subject, session, errors=errors, status_code=422)
    await session.flush()
    # Shown once, on the page this redirects to: never in a URL, never stored in plain text.
    response = RedirectResponse("/ui/tokens", status_code=303)
    reveal.stash(response, request, runtime, kind="token", value=plain, path="/ui/tokens")
    return response


@router.post("/ui/tokens/{token_id}/revoke")
async def revoke_token(token_id: int, subject: WebUser, session: SessionDep) -> Response:
    await identity_service.token.revoke(
        session, subject.actor, subject.principal, token_id=token_id
    )
    response = RedirectResponse("/ui/tokens", status_code=303)
    flash(response, "The token is revoked.")
    return response


def _users_context(runtime: Runtime) -> dict[str, object]:
    return {"roles": list(Role), "default_quota": runtime.settings.customer_server_quota}


def _quota(form: FormData) -> int | None:
    value = text(form, "server_quota")
    if not value:
        return None
    if not value.isdecimal() or int(value) > 10_000:
        raise ValidationFailed("Enter a whole number from 0 to 10000", field="server_quota")
    return int(value)


@router.get("/ui/users", response_class=HTMLResponse)
async def users(
    request: Request,
    _: WebAdmin,
    session: SessionDep,
    runtime: RuntimeDep,
    page: int = 1,
) -> Response:
    params = page_params(page)
    rows, total = await identity_service.user.list(session, params=params)
    return render(
        request,
        "identity/users.html",
        {
            "users": rows,
            "page": Page.of(rows, total=total, params=params),
            "errors": {},
            **_users_context(runtime),
        },
    )


@router.post("/ui/users", response_class=HTMLResponse)
async def create_user(
    request: Request, subject: WebAdmin, session: SessionDep, runtime: RuntimeDep
) -> Response:
    form = await read_form(request)
    try:
        user = await identity_service.user.create(
            session,
            subject.actor,
            username=text(form, "username"),
            password=text(form, "password"),
            role=text(form, "role", "customer"),
            email=text(form, "email") or None,
            server_quota=_quota(form),
        )
    except StellwerkError as error:
        params = page_params(1)
        rows, total = await identity_service.user.list(session, params=params)
        return render(
            request,
            "identity/users.html",
            {
                "users": rows,
                "page": Page.of(rows, total=total, params=params),
                "errors": field_errors(error),
                "values": {
                    "username": text(form, "username"),
                    "email": text(form, "email"),
                    "server_quota": text(form, "server_quota"),
                },
                **_users_context(runtime),
            },
            status_code=422,
        )
    response = RedirectResponse("/ui/users", status_code=303)
    flash(response, f"Created {user.username}.")
    return response


@router.post("/ui/users/{user_id}")
async def update_user(
    user_id: int, request: Request, subject: WebAdmin, session: SessionDep
) -> Response:
    form = await read_form(request)
    user = await identity_service.user.get(session, user_id)
    response = RedirectResponse("/ui/users", status_code=303)
    try:
        await identity_service.user.update(
            session,
            subject.actor,
            user,
            server_quota=_quota(form),
            role=text(form, "role") or None,
            is_active=text(form, "is_active") == "true" if text(form, "is_active") else None,
            password=text(form, "password") or None,
        )
    except StellwerkError as error:
        flash(response, error.message)
        return response
    flash(response, f"Saved {user.username}.")
    return response


@router.post("/ui/users/{user_id}/delete")
async def delete_user(user_id: int, subject: WebAdmin, session: SessionDep) -> Response:
    user = await identity_service.user.get(session, user_id)
    response = RedirectResponse("/ui/users", status_code=303)
    try:
        await identity_service.user.delete(session, subject.actor, user)
    except StellwerkError as error:
        flash(response, error.message)
        return response
    flash(response, f"Deleted {user.username}.")
    return response


@router.get("/ui/api-key", response_class=HTMLResponse)
async def api_key(
    request: Request, _: WebAdmin, session: SessionDep, runtime: RuntimeDep
) -> Response:
    key = await identity_service.system_api_key.active(session)
    created = reveal.take(request, runtime, kind="api-key")
    created = created if isinstance(created, str) else None
    response = render(request, "identity/api_key.html", {"key": key, "created": created})
    return reveal.forget(response, request, path="/ui/api-key", shown=created is not None)


@router.post("/ui/api-key/rotate")
async def rotate_api_key(
    request: Request, subject: WebAdmin, session: SessionDep, runtime: RuntimeDep
) -> Response:
    _, plain = await identity_service.system_api_key.rotate(session, subject.actor)
    response = RedirectResponse("/ui/api-key", status_code=303)
    reveal.stash(response, request, runtime, kind="api-key", value=plain, path="/ui/api-key")
    return response

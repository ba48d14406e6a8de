"""Login, logout and the dashboard. Each area adds its own pages in its package."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stellwerk.audit.service import audit
from stellwerk.dashboard.service import TREND_DAYS
from stellwerk.dashboard.service import dashboard as dashboard_service
from stellwerk.database import SessionDep
from stellwerk.exceptions import RateLimited, StellwerkError
from stellwerk.identity import service as identity_service
from stellwerk.identity.auth import SESSION_COOKIE, RuntimeDep, client_ip
from stellwerk.kit.pagination import PageParams
from stellwerk.kit.secret import tokens_equal
from stellwerk.models import AuditEvent
from stellwerk.operation.service import operation as operation_service
from stellwerk.web import nav
from stellwerk.web.auth import WebUser
from stellwerk.web.charts import paired_bars, sparkline, state_bar
from stellwerk.web.templates import render, templates

router = APIRouter(include_in_schema=False)

LOGIN_CSRF_COOKIE = "stellwerk_login_csrf"
templates.env.globals["nav"] = nav.NAV
templates.env.globals["nav_current"] = nav.current


def _safe_next(value: str | None) -> str:
    """Only same-site paths: a login link must not send people elsewhere."""
    if not value:
        return "/ui/"
    parsed = urlparse(value)
    if parsed.scheme or parsed.netloc or not value.startswith("/") or value.startswith("//"):
        return "/ui/"
    return value


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> Response:
    token = secrets.token_urlsafe(32)
    page = render(request, "login.html", {"login_csrf": token, "next": _safe_next(next)})
    page.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", max_age=3600)
    return page


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    username: Annotated[str, Form(max_length=150)],
    password: Annotated[str, Form(max_length=1024)],
    csrf_token: Annotated[str, Form(max_length=100)],
    next: Annotated[str | None, Form(max_length=2000)] = None,
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not tokens_equal(expected, csrf_token):
        return _login_again(request, "Your login form expired; please try again.", next)
    try:
        user = await identity_service.user.authenticate(
            session,
            runtime.limiter,
            username=username,
            password=password,
            ip=client_ip(request),
            limit=runtime.settings.login_rate_limit,
        )
    except RateLimited as error:
        page = _login_again(request, "Too many attempts; wait a minute.", next, status_code=429)
        page.headers["Retry-After"] = str(error.retry_after)
        return page
    except StellwerkError:
        return _login_again(request, "Invalid username or password.", next, status_code=401)
    cookie, _ = await identity_service.web_session.create(
        session, user, ip=client_ip(request), expires_in=runtime.settings.session_expiry_seconds
    )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=runtime.settings.session_expiry_seconds,
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


def _login_again(
    request: Request, message: str, next: str | None, *, status_code: int = 400
) -> Response:
    token = secrets.token_urlsafe(32)
    page = render(
        request,
        "login.html",
        {"login_csrf": token, "next": _safe_next(next), "error": message},
        status_code=status_code,
    )
    page.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", max_age=3600)
    return page


@router.post("/logout")
async def logout(request: Request, subject: WebUser, session: SessionDep) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        await identity_service.web_session.destroy(session, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/ui", response_class=HTMLResponse)
@router.get("/ui/", response_class=HTMLResponse)
async def dashboard(request: Request, subject: WebUser, session: SessionDep) -> Response:
    figures = await dashboard_service.figures(
        session,
        subject.principal,
        servers=subject.has("read:servers"),
        projects=subject.has("read:projects"),
        licenses=subject.has("read:licenses"),
        hits=subject.has("read:domains"),
        costs=subject.is_admin,
    )
    running, running_total = await operation_service.list(
        session, subject.principal, params=PageParams(page=1, per_page=10), status="running"
    )
    recent, _ = await operation_service.list(
        session, subject.principal, params=PageParams(page=1, per_page=10)
    )
    events: Sequence[AuditEvent] = []
    if subject.is_admin:
        events, _ = await audit.list(session, params=PageParams(page=1, per_page=15))
    money = figures.money or []
    return render(
        request,
        "dashboard.html",
        {
            "figures": figures,
            "servers_chart": state_bar(figures.servers or {}),
            "projects_chart": state_bar(figures.projects or {}, link="/ui/projects"),
            "hits_chart": sparkline(
                figures.hits_per_day or [], title="Redirect hits per day", unit="Hits"
            ),
            "money_chart": paired_bars(
                [(m.provider, float(m.cost), float(m.revenue)) for m in money],
                names=("Provider cost", "Plan revenue"),
                title="Monthly cost and revenue per provider",
            ),
            "cost": sum((m.cost for m in money), Decimal(0)),
            "revenue": sum((m.revenue for m in money), Decimal(0)),
            "trend_days": TREND_DAYS,
            "running": running,
            "running_total": running_total,
            "recent": recent,
            "events": events,
        },
    )

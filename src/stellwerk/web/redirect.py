"""Pages for redirect domains: list, create, DNS instructions and verification, hit charts.

Ownership is the API's (`owner_scope`): people see their own domains, admins everyone's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from stellwerk.database import SessionDep
from stellwerk.exceptions import StellwerkError, ValidationFailed
from stellwerk.identity.auth import AuthSubject, RuntimeDep
from stellwerk.kit.pagination import Page
from stellwerk.models import RedirectDomain
from stellwerk.redirect import service
from stellwerk.redirect.auth import owner_scope
from stellwerk.web.auth import WebUser
from stellwerk.web.charts import bar_list, daily_bars
from stellwerk.web.forms import checked, field_errors, page_params, read_form, text
from stellwerk.web.templates import flash, render, templates

router = APIRouter(include_in_schema=False)

DAY_CHOICES = (7, 30, 90)
DEFAULT_DAYS = 30
FORM_DEFAULTS: dict[str, Any] = {"redirect_code": "301", "preserve_path": True, "include_www": True}


def when_ms(value: int | None) -> str:
    """An epoch-milliseconds timestamp (how hits are stored) as UTC text."""
    if value is None:
        return ""
    return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


templates.env.filters["when_ms"] = when_ms


def _back(url: str, message: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    flash(response, message)
    return response


def _days(value: int | None) -> int:
    return value if value in DAY_CHOICES else DEFAULT_DAYS


def _daily_chart(stats: service.Stats, title: str) -> Markup:
    counts = {point.day: point.hits for point in stats.daily}
    return daily_bars(
        counts,
        start=stats.daily[0].day,
        end=stats.daily[-1].day,
        title=title,
        unit="Hits",
    )


def _country_chart(stats: service.Stats) -> Markup:
    rows = [(country or "unknown", hits) for country, hits in stats.by_country]
    return bar_list(rows, title=f"Hits by country, last {stats.days} days", unit="Hits")


async def _domain(session: SessionDep, subject: AuthSubject, domain_id: int) -> RedirectDomain:
    """Someone else's domain is a 404, as in the API."""
    return await service.domain.get(session, domain_id, owner_id=owner_scope(subject))


@router.get("/ui/redirects", response_class=HTMLResponse)
async def redirects(
    request: Request, subject: WebUser, session: SessionDep, page: int = 1
) -> Response:
    params = page_params(page)
    rows, total = await service.domain.page(
        session, owner_id=owner_scope(subject), offset=params.offset, limit=params.per_page
    )
    return render(
        request,
        "redirect/list.html",
        {"domains": rows, "page": Page.of(rows, total=total, params=params)},
    )


def _new_page(
    request: Request,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "redirect/new.html",
        {
            "values": values or FORM_DEFAULTS,
            "errors": errors or {},
            "codes": service.REDIRECT_CODES,
        },
        status_code=status_code,
    )


@router.get("/ui/redirects/new", response_class=HTMLResponse)
async def new_redirect(request: Request, _: WebUser) -> Response:
    return _new_page(request)


@router.post("/ui/redirects", response_class=HTMLResponse)
async def create_redirect(request: Request, subject: WebUser, session: SessionDep) -> Response:
    form = await read_form(request)
    values: dict[str, Any] = {
        "domain": text(form, "domain")[:300],
        "target_url": text(form, "target_url")[:4096],
        "redirect_code": text(form, "redirect_code"),
        "preserve_path": checked(form, "preserve_path"),
        "include_www": checked(form, "include_www"),
    }
    try:
        if not values["domain"]:
            raise ValidationFailed("Enter a domain like alt-firma.de", field="domain")
        if not values["target_url"]:
            raise ValidationFailed("Enter the URL visitors go to", field="target_url")
        code = int(values["redirect_code"]) if values["redirect_code"].isdecimal() else 0
        record = await service.domain.create(
            session,
            subject.actor,
            subject.user,
            domain=values["domain"],
            target_url=values["target_url"],
            redirect_code=code,
            preserve_path=values["preserve_path"],
            include_www=values["include_www"],
        )
    except StellwerkError as error:
        return _new_page(request, values=values, errors=field_errors(error), status_code=422)
    return _back(f"/ui/redirects/{record.id}", f"Added {record.domain}. Set the DNS records below.")


@router.get("/ui/redirects/summary", response_class=HTMLResponse)
async def summary(
    request: Request, subject: WebUser, session: SessionDep, days: int | None = None
) -> Response:
    """Every domain of the viewer together, like `/api/v1/analytics/summary`."""
    chosen = _days(days)
    stats = await service.stats.summary(session, owner_id=owner_scope(subject), days=chosen)
    return render(
        request,
        "redirect/summary.html",
        {
            "days": chosen,
            "day_choices": DAY_CHOICES,
            "total": stats.total,
            "daily_chart": _daily_chart(stats, f"Hits per day, last {chosen} days"),
            "country_chart": _country_chart(stats),
            "top_chart": bar_list(
                [(row.domain, row.hits) for row in stats.top[:20]],
                title="Top domains",
                unit="Hits",
            ),
        },
    )


@router.get("/ui/redirects/{domain_id:int}", response_class=HTMLResponse)
async def redirect_detail(
    domain_id: int,
    request: Request,
    subject: WebUser,
    session: SessionDep,
    runtime: RuntimeDep,
    days: int | None = None,
) -> Response:
    record = await _domain(session, subject, domain_id)
    chosen = _days(days)
    stats = await service.stats.for_domain(session, record.id, days=chosen)
    return render(
        request,
        "redirect/detail.html",
        {
            "domain": record,
            "records": service.domain.dns_records(runtime.settings, record),
            "days": chosen,
            "day_choices": DAY_CHOICES,
            "total": stats.total,
            "daily_chart": _daily_chart(stats, f"Hits per day, last {chosen} days"),
            "country_chart": _country_chart(stats),
        },
    )


@router.post("/ui/redirects/{domain_id:int}/verify")
async def verify_redirect(
    domain_id: int, subject: WebUser, session: SessionDep, runtime: RuntimeDep
) -> Response:
    record = await _domain(session, subject, domain_id)
    target = f"/ui/redirects/{domain_id}"
    try:
        result = await service.domain.verify(
            session, subject.actor, record, settings=runtime.settings
        )
    except StellwerkError as error:
        return _back(target, f"Not checked: {error.message}")
    if result.verified:
        return _back(target, f"The DNS records of {record.domain} point here: it is active.")
    return _back(target, f"Not yet: {result.message}")


@router.post("/ui/redirects/{domain_id:int}/delete")
async def delete_redirect(domain_id: int, subject: WebUser, session: SessionDep) -> Response:
    record = await _domain(session, subject, domain_id)
    name = record.domain
    await service.domain.delete(session, subject.actor, record)
    return _back("/ui/redirects", f"Deleted {name} with its hits.")

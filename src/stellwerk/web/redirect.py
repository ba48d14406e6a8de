"""Pages for redirect domains: list with filters and bulk actions, create and edit, sunset pages,
QR codes, target checks, DNS verification, groups, CSV import and the charts.

Ownership is the API's (`owner_scope`): people see their own domains and groups, admins
everyone's; someone else's is a 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.datastructures import FormData, UploadFile

from stellwerk.database import SessionDep
from stellwerk.exceptions import StellwerkError, ValidationFailed
from stellwerk.identity.auth import AuthSubject, RuntimeDep
from stellwerk.kit.pagination import Page
from stellwerk.models import RedirectDomain, RedirectGroup
from stellwerk.redirect import service
from stellwerk.redirect.auth import owner_scope
from stellwerk.redirect.checks import checks
from stellwerk.redirect.csvfiles import csv_files
from stellwerk.redirect.repository import DomainFilter
from stellwerk.web.auth import WebAccess
from stellwerk.web.charts import bar_list, daily_bars, hourly_bars
from stellwerk.web.forms import checked, field_errors, page_params, read_form, text
from stellwerk.web.templates import flash, render, templates

WebDomainsReader = Annotated[AuthSubject, Depends(WebAccess(scope="read:domains"))]
WebDomainsWriter = Annotated[AuthSubject, Depends(WebAccess(scope="write:domains"))]

router = APIRouter(include_in_schema=False)

DAY_CHOICES = (1, 2, 7, 30, 90, 365)
DEFAULT_DAYS = 30
FORM_DEFAULTS: dict[str, Any] = {"redirect_code": "301", "preserve_path": True, "include_www": True}
MAX_UPLOAD = 5 * 2**20
BREAKDOWNS = (
    ("referrer", "Referrers", "direct"),
    ("path", "Paths", "/"),
    ("browser", "Browsers", "unknown"),
    ("os", "Operating systems", "unknown"),
    ("device", "Devices", "unknown"),
)


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


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdecimal() and len(value) < 10 else None


def _series_chart(stats: service.Stats, title: str) -> Markup:
    if stats.hourly is not None:
        return hourly_bars([(p.hour, p.hits) for p in stats.hourly], title=title, unit="Hits")
    counts = {point.day: point.hits for point in stats.daily}
    return daily_bars(
        counts, start=stats.daily[0].day, end=stats.daily[-1].day, title=title, unit="Hits"
    )


def _charts(stats: service.Stats) -> dict[str, Markup]:
    period = "the last 24 hours" if stats.days == 1 else f"the last {stats.days} days"
    charts = {
        "country": bar_list(
            [(c or "unknown", n) for c, n in stats.by_country],
            title=f"Countries, {period}",
            unit="Hits",
        )
    }
    for dimension, title, unknown in BREAKDOWNS:
        charts[dimension] = bar_list(
            [(v or unknown, n) for v, n in stats.breakdowns[dimension]], title=title, unit="Hits"
        )
    return charts


def _export_range(days: int) -> dict[str, str]:
    """The visits export form's default: the period on screen."""
    today = dt.datetime.now(dt.UTC).date()
    return {
        "export_from": (today - dt.timedelta(days=days - 1)).isoformat(),
        "export_to": today.isoformat(),
    }


def _period_title(days: int) -> str:
    if days == 1:
        return "Hits per hour, today"
    if days == 2:
        return "Hits per hour, yesterday and today"
    return f"Hits per day, last {days} days"


async def _domain(session: SessionDep, subject: AuthSubject, domain_id: int) -> RedirectDomain:
    """Someone else's domain is a 404, as in the API."""
    return await service.domain.get(session, domain_id, owner_id=owner_scope(subject))


async def _groups(session: SessionDep, subject: AuthSubject) -> list[tuple[RedirectGroup, int]]:
    return await service.group_service.list(session, owner_id=owner_scope(subject))


def _list_filter(subject: AuthSubject, request: Request) -> tuple[DomainFilter, dict[str, str]]:
    params = request.query_params
    chosen = {
        name: (params.get(name) or "").strip()[:200]
        for name in ("q", "group", "status", "target", "sunset")
    }
    group = chosen["group"]
    where = DomainFilter(
        owner_id=owner_scope(subject),
        group_id=_int(group),
        ungrouped=group == "none",
        status=chosen["status"] if chosen["status"] in ("pending", "active", "dns_error") else None,
        search=chosen["q"] or None,
        target_status=chosen["target"] if chosen["target"] in ("ok", "failing") else None,
        sunset={"yes": True, "no": False}.get(chosen["sunset"]),
    )
    return where, chosen


@router.get("/ui/redirects", response_class=HTMLResponse)
async def redirects(
    request: Request, subject: WebDomainsReader, session: SessionDep, page: int = 1
) -> Response:
    params = page_params(page)
    where, chosen = _list_filter(subject, request)
    rows, total = await service.domain.page(
        session, where=where, offset=params.offset, limit=params.per_page
    )
    groups = await _groups(session, subject)
    query = urlencode({k: v for k, v in chosen.items() if v})
    base = f"/ui/redirects?{query}" if query else "/ui/redirects"
    return render(
        request,
        "redirect/list.html",
        {
            "domains": rows,
            "page": Page.of(rows, total=total, params=params),
            "filters": chosen,
            "groups": groups,
            "group_by_id": {g.id: g for g, _ in groups},
            "base": base,
            "export_query": query,
            "codes": service.REDIRECT_CODES,
        },
    )


def _new_page(
    request: Request,
    groups: list[tuple[RedirectGroup, int]],
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
            "groups": groups,
        },
        status_code=status_code,
    )


@router.get("/ui/redirects/new", response_class=HTMLResponse)
async def new_redirect(
    request: Request, subject: WebDomainsReader, session: SessionDep
) -> Response:
    return _new_page(request, await _groups(session, subject))


@router.post("/ui/redirects", response_class=HTMLResponse)
async def create_redirect(
    request: Request, subject: WebDomainsWriter, session: SessionDep
) -> Response:
    form = await read_form(request)
    values: dict[str, Any] = {
        "domain": text(form, "domain")[:300],
        "target_url": text(form, "target_url")[:4096],
        "redirect_code": text(form, "redirect_code"),
        "preserve_path": checked(form, "preserve_path"),
        "include_www": checked(form, "include_www"),
        "group_id": text(form, "group_id"),
    }
    try:
        if not values["domain"]:
            raise ValidationFailed("Enter a domain like alt-firma.de", field="domain")
        code = int(values["redirect_code"]) if values["redirect_code"].isdecimal() else 0
        record = await service.domain.create(
            session,
            subject.actor,
            subject.user,
            domain=values["domain"],
            target_url=values["target_url"] or None,
            redirect_code=code,
            preserve_path=values["preserve_path"],
            include_www=values["include_www"],
            group_id=_int(values["group_id"]),
        )
    except StellwerkError as error:
        return _new_page(
            request,
            await _groups(session, subject),
            values=values,
            errors=field_errors(error),
            status_code=422,
        )
    return _back(f"/ui/redirects/{record.id}", f"Added {record.domain}. Set the DNS records below.")


def _sunset_form(form: FormData) -> dict[str, Any]:
    return {
        "status_code": text(form, "sunset_status") or "410",
        "sunset_date": text(form, "sunset_date") or None,
        "title": text(form, "sunset_title") or None,
        "message": text(form, "sunset_message") or None,
        "button_label": text(form, "sunset_button_label") or None,
        "company_name": text(form, "sunset_company") or None,
    }


@router.post("/ui/redirects/bulk")
async def bulk(request: Request, subject: WebDomainsWriter, session: SessionDep) -> Response:
    form = await read_form(request)
    action = text(form, "action")
    back = text(form, "back") or "/ui/redirects"
    if not back.startswith("/ui/redirects"):
        back = "/ui/redirects"
    ids = [i for i in (_int(v) for v in form.getlist("ids") if isinstance(v, str)) if i]
    if not ids:
        return _back(back, "Select at least one domain.")
    options: dict[str, Any] = {}
    if action == "set_target":
        options["target_url"] = text(form, "target_url")
        options["redirect_code"] = _int(text(form, "redirect_code"))
    elif action == "sunset":
        options["sunset_config"] = _sunset_form(form)
    elif action == "set_group":
        options["to_group_id"] = _int(text(form, "to_group_id"))
    elif action not in ("unsunset", "delete"):
        return _back(back, "Choose an action.")
    try:
        domains = await service.domain.select(
            session, owner_id=owner_scope(subject), domain_ids=ids, group_id=None
        )
        changed = await service.domain.bulk(
            session, subject.actor, domains, action=action, **options
        )
    except StellwerkError as error:
        await session.rollback()
        return _back(back, f"Nothing changed: {error.message}")
    done = {
        "set_target": "New target for",
        "sunset": "Sunset page for",
        "unsunset": "Redirecting again:",
        "set_group": "Moved",
        "delete": "Deleted",
    }[action]
    return _back(back, f"{done} {len(changed)} domain(s).")


@router.get("/ui/redirects/summary", response_class=HTMLResponse)
async def summary(
    request: Request,
    subject: WebDomainsReader,
    session: SessionDep,
    days: int | None = None,
    group: str | None = None,
    bots: str | None = None,
) -> Response:
    """Every domain of the viewer together (or one group's), like `/api/v1/analytics/summary`."""
    chosen = _days(days)
    owner_id = owner_scope(subject)
    group_id = _int(group)
    current = None
    if group_id is not None:
        current = await service.group_service.get(session, group_id, owner_id=owner_id)
    include = bots == "include"
    stats = await service.stats.summary(
        session, owner_id=owner_id, group_id=group_id, days=chosen, include_bots=include
    )
    query = {"group": str(group_id)} if group_id else {}
    return render(
        request,
        "redirect/summary.html",
        {
            "days": chosen,
            "day_choices": DAY_CHOICES,
            "stats": stats,
            "include_bots": include,
            "group": current,
            "groups": await _groups(session, subject),
            "base": "/ui/redirects/summary",
            "query": query,
            "series_chart": _series_chart(stats, _period_title(chosen)),
            "charts": _charts(stats),
            "top_chart": bar_list(
                [(row.domain, row.hits) for row in stats.top[:20]],
                title="Top domains",
                unit="Hits",
            ),
            **_export_range(chosen),
        },
    )


@router.get("/ui/redirects/{domain_id:int}", response_class=HTMLResponse)
async def redirect_detail(
    domain_id: int,
    request: Request,
    subject: WebDomainsReader,
    session: SessionDep,
    runtime: RuntimeDep,
    days: int | None = None,
    bots: str | None = None,
) -> Response:
    record = await _domain(session, subject, domain_id)
    chosen = _days(days)
    include = bots == "include"
    stats = await service.stats.for_domain(session, record.id, days=chosen, include_bots=include)
    groups = await service.group_service.list(session, owner_id=record.owner_id)
    return render(
        request,
        "redirect/detail.html",
        {
            "domain": record,
            "records": service.domain.dns_records(runtime.settings, record),
            "days": chosen,
            "day_choices": DAY_CHOICES,
            "stats": stats,
            "include_bots": include,
            "groups": groups,
            "group": next((g for g, _ in groups if g.id == record.group_id), None),
            "codes": service.REDIRECT_CODES,
            "sunset": record.sunset_config or {},
            "check": record.target_check,
            "expires_soon": checks.expires_soon(record),
            "base": f"/ui/redirects/{record.id}",
            "query": {},
            "series_chart": _series_chart(stats, _period_title(chosen)),
            "charts": _charts(stats),
            **_export_range(chosen),
        },
    )


@router.post("/ui/redirects/{domain_id:int}/edit")
async def edit_redirect(
    domain_id: int, request: Request, subject: WebDomainsWriter, session: SessionDep
) -> Response:
    record = await _domain(session, subject, domain_id)
    form = await read_form(request)
    target = f"/ui/redirects/{domain_id}"
    code = text(form, "redirect_code")
    changes = {
        "target_url": text(form, "target_url")[:4096],
        "redirect_code": int(code) if code.isdecimal() and len(code) < 5 else 0,
        "preserve_path": checked(form, "preserve_path"),
        "include_www": checked(form, "include_www"),
        "group_id": _int(text(form, "group_id")),
    }
    try:
        diff = await service.domain.update(session, subject.actor, record, changes)
    except StellwerkError as error:
        await session.rollback()
        return _back(target, f"Not saved: {error.message}")
    if not diff:
        return _back(target, "Nothing changed.")
    return _back(target, f"Saved {record.domain}; the data plane follows within a second.")


@router.post("/ui/redirects/{domain_id:int}/sunset")
async def sunset_redirect(
    domain_id: int, request: Request, subject: WebDomainsWriter, session: SessionDep
) -> Response:
    record = await _domain(session, subject, domain_id)
    form = await read_form(request)
    target = f"/ui/redirects/{domain_id}"
    config = None if text(form, "action") == "off" else _sunset_form(form)
    try:
        await service.domain.update(session, subject.actor, record, {"sunset_config": config})
    except StellwerkError as error:
        await session.rollback()
        return _back(target, f"Not saved: {error.message}")
    if config is None:
        return _back(target, f"{record.domain} redirects again.")
    return _back(target, f"{record.domain} now shows its sunset page.")


@router.post("/ui/redirects/{domain_id:int}/check")
async def check_redirect(
    domain_id: int, subject: WebDomainsWriter, session: SessionDep, runtime: RuntimeDep
) -> Response:
    record = await _domain(session, subject, domain_id)
    result = await checks.check(session, record, runtime.settings)
    target = f"/ui/redirects/{domain_id}"
    if result["ok"]:
        return _back(target, f"The target works: HTTP {result['final_status']}.")
    return _back(
        target, "The target is failing: " + (result["error"] or f"HTTP {result['final_status']}")
    )


@router.post("/ui/redirects/{domain_id:int}/verify")
async def verify_redirect(
    domain_id: int, subject: WebDomainsWriter, session: SessionDep, runtime: RuntimeDep
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
async def delete_redirect(
    domain_id: int, subject: WebDomainsWriter, session: SessionDep
) -> Response:
    record = await _domain(session, subject, domain_id)
    name = record.domain
    await service.domain.delete(session, subject.actor, record)
    return _back("/ui/redirects", f"Deleted {name} with its hits.")


# -- groups ------------------------------------------------------------------------------------


@router.get("/ui/redirects/groups", response_class=HTMLResponse)
async def groups_page(request: Request, subject: WebDomainsReader, session: SessionDep) -> Response:
    return render(
        request,
        "redirect/groups.html",
        {"groups": await _groups(session, subject), "codes": service.REDIRECT_CODES},
    )


def _group_values(form: FormData) -> dict[str, Any]:
    code = text(form, "redirect_code")
    return {
        "name": text(form, "name")[:200],
        "color": text(form, "color") or service.DEFAULT_COLOR,
        "target_url": text(form, "target_url")[:4096] or None,
        "redirect_code": int(code) if code.isdecimal() and len(code) < 5 else None,
    }


@router.post("/ui/redirects/groups")
async def create_group(
    request: Request, subject: WebDomainsWriter, session: SessionDep
) -> Response:
    values = _group_values(await read_form(request))
    try:
        group = await service.group_service.create(session, subject.actor, subject.user, **values)
    except StellwerkError as error:
        await session.rollback()
        return _back("/ui/redirects/groups", f"Not created: {error.message}")
    return _back("/ui/redirects/groups", f"Created the group {group.name}.")


@router.post("/ui/redirects/groups/{group_id:int}")
async def update_group(
    group_id: int, request: Request, subject: WebDomainsWriter, session: SessionDep
) -> Response:
    group = await service.group_service.get(session, group_id, owner_id=owner_scope(subject))
    values = _group_values(await read_form(request))
    try:
        await service.group_service.update(session, subject.actor, group, values)
    except StellwerkError as error:
        await session.rollback()
        return _back("/ui/redirects/groups", f"Not saved: {error.message}")
    return _back("/ui/redirects/groups", f"Saved the group {group.name}.")


@router.post("/ui/redirects/groups/{group_id:int}/apply")
async def apply_group_target(
    group_id: int, subject: WebDomainsWriter, session: SessionDep
) -> Response:
    """Send every domain of the group to the group's target."""
    owner_id = owner_scope(subject)
    group = await service.group_service.get(session, group_id, owner_id=owner_id)
    if not group.target_url:
        return _back("/ui/redirects/groups", f"Give {group.name} a target first.")
    domains = await service.domain.select(
        session, owner_id=owner_id, domain_ids=None, group_id=group.id
    )
    try:
        await service.domain.bulk(
            session,
            subject.actor,
            domains,
            action="set_target",
            target_url=group.target_url,
            redirect_code=group.redirect_code,
            group=group,
        )
    except StellwerkError as error:
        await session.rollback()
        return _back("/ui/redirects/groups", f"Nothing changed: {error.message}")
    return _back(
        "/ui/redirects/groups", f"{len(domains)} domain(s) of {group.name} go to its target now."
    )


@router.post("/ui/redirects/groups/{group_id:int}/delete")
async def delete_group(group_id: int, subject: WebDomainsWriter, session: SessionDep) -> Response:
    group = await service.group_service.get(session, group_id, owner_id=owner_scope(subject))
    name = group.name
    held = await service.group_service.delete(session, subject.actor, group)
    return _back("/ui/redirects/groups", f"Deleted the group {name}; {held} domain(s) kept.")


# -- CSV import --------------------------------------------------------------------------------


@router.get("/ui/redirects/import", response_class=HTMLResponse)
async def import_page(request: Request, _: WebDomainsReader) -> Response:
    return render(request, "redirect/import.html", {"report": None, "csv_text": ""})


@router.post("/ui/redirects/import", response_class=HTMLResponse)
async def import_domains(
    request: Request, subject: WebDomainsWriter, session: SessionDep
) -> Response:
    """Upload (or paste) a CSV: a dry run first; the report's button applies the same text."""
    form = await request.form(max_part_size=MAX_UPLOAD)
    upload = form.get("file")
    content = ""
    if isinstance(upload, UploadFile) and upload.filename:
        raw = await upload.read(MAX_UPLOAD + 1)
        if len(raw) > MAX_UPLOAD:
            return _import_error(request, "The file is larger than 5 MB.")
        try:
            content = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return _import_error(request, "The file must be UTF-8 text (CSV).")
    else:
        content = text(form, "csv_text")
    if not content.strip():
        return _import_error(request, "Choose a CSV file or paste its text.")
    apply = text(form, "apply") == "1"
    try:
        report = await csv_files.import_domains(
            session, subject.actor, subject.user, content, dry_run=not apply
        )
    except StellwerkError as error:
        return _import_error(request, error.message, content)
    return render(request, "redirect/import.html", {"report": report, "csv_text": content})


def _import_error(request: Request, message: str, content: str = "") -> Response:
    return render(
        request,
        "redirect/import.html",
        {"report": None, "error": message, "csv_text": content},
        status_code=400,
    )

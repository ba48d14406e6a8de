"""The audit log page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from stellwerk.audit.service import audit
from stellwerk.database import SessionDep
from stellwerk.kit.pagination import Page
from stellwerk.web.auth import WebAdmin
from stellwerk.web.forms import page_params
from stellwerk.web.templates import render

router = APIRouter(include_in_schema=False)


@router.get("/ui/audit", response_class=HTMLResponse)
async def audit_log(
    request: Request, _: WebAdmin, session: SessionDep, page: int = 1, action: str | None = None
) -> Response:
    params = page_params(page, per_page=50)
    action = (action or "").strip()[:80] or None
    events, total = await audit.list(session, params=params, action=action)
    return render(
        request,
        "audit/list.html",
        {
            "events": events,
            "page": Page.of(events, total=total, params=params),
            "action": action or "",
            "base": "/ui/audit" + (f"?action={action}" if action else ""),
        },
    )

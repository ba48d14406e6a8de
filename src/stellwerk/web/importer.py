"""The Import page: the sources Stellwerk imports from, their commands, and past imports."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from stellwerk.audit.service import audit
from stellwerk.database import SessionDep
from stellwerk.importer.sources import SOURCES
from stellwerk.kit.pagination import Page
from stellwerk.web.auth import WebAdmin
from stellwerk.web.forms import page_params
from stellwerk.web.templates import render

router = APIRouter(include_in_schema=False)


@router.get("/ui/import", response_class=HTMLResponse)
async def import_page(
    request: Request, _: WebAdmin, session: SessionDep, page: int = 1
) -> Response:
    params = page_params(page, per_page=25)
    events, total = await audit.list(session, params=params, action="import.")
    return render(
        request,
        "import/list.html",
        {
            "sources": SOURCES,
            "events": events,
            "page": Page.of(events, total=total, params=params),
            "base": "/ui/import",
        },
    )

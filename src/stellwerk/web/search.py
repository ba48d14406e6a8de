"""The search box in the top bar: suggestions while typing, and a page with every kind's matches.

What a viewer finds is what they may open: each kind only with its read scope, the license
panel's kinds for the company only, and owned things (servers, projects, domains, redirects)
through each repository's owner scoping."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from stellwerk.database import SessionDep
from stellwerk.identity.auth import AuthSubject
from stellwerk.search.schemas import FoundGroup
from stellwerk.search.service import FIND_SCOPES
from stellwerk.search.service import search as search_service
from stellwerk.web.auth import WebUser
from stellwerk.web.templates import render

router = APIRouter(include_in_schema=False)

MAX_QUERY = 200
SUGGESTIONS = 5  # per kind, in the box under the search field
PAGE_RESULTS = 50  # per kind, on the results page


async def _find(
    session: SessionDep, subject: AuthSubject, query: str, *, limit: int
) -> list[FoundGroup]:
    if not query:
        return []
    kinds = [kind for kind, scope in FIND_SCOPES.items() if subject.has(scope)]
    return await search_service.find(session, subject.principal, query, kinds=kinds, limit=limit)


def _query(q: str | None) -> str:
    return (q or "").strip()[:MAX_QUERY]


@router.get("/ui/search", response_class=HTMLResponse)
async def search_page(
    request: Request, subject: WebUser, session: SessionDep, q: str | None = None
) -> Response:
    query = _query(q)
    groups = await _find(session, subject, query, limit=PAGE_RESULTS)
    return render(
        request, "search/results.html", {"groups": groups, "search_query": query, "query": query}
    )


@router.get("/ui/search/suggest", response_class=HTMLResponse)
async def suggestions(
    request: Request, subject: WebUser, session: SessionDep, q: str | None = None
) -> Response:
    """The few best matches per kind, as the list under the search field."""
    query = _query(q)
    groups = await _find(session, subject, query, limit=SUGGESTIONS)
    return render(request, "search/_suggestions.html", {"groups": groups, "query": query})

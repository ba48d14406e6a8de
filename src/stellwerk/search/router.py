"""HTTP for the global search."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from stellwerk.database import SessionDep
from stellwerk.exceptions import MissingScope
from stellwerk.identity.auth import Authenticated
from stellwerk.search.schemas import SearchResults
from stellwerk.search.service import SCOPES
from stellwerk.search.service import search as search_service
from stellwerk.surface import Surface, error_responses

router = APIRouter(tags=["license admin"], responses=error_responses(Surface.LICENSE))


@router.get("/api/global-search", response_model=SearchResults)
async def global_search(
    subject: Authenticated,
    session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=200)],
    type: Annotated[str | None, Query(pattern="^(customer|license|device|lead)$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchResults:
    """Customers, licenses, devices and leads matching `q`; `total` counts all matches."""
    if type is not None:
        if not subject.has(SCOPES[type]):
            raise MissingScope(SCOPES[type])
        kinds = [type]
    else:
        kinds = [kind for kind, scope in SCOPES.items() if subject.has(scope)]
        if not kinds:
            raise MissingScope("read:licenses")
    results, total = await search_service.search(session, q.strip(), kinds=kinds, limit=limit)
    return SearchResults(results=results, total=total)

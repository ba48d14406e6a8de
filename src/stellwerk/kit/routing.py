"""Questions about the app's route table that the router does not answer itself."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi.routing import iter_route_contexts
from starlette.routing import BaseRoute, Match
from starlette.types import Scope


def allowed_methods(routes: Sequence[BaseRoute], scope: Scope) -> list[str]:
    """Every method of every route whose path matches the request's path, sorted.

    The router answers 405 from the first route whose path matches, so its `Allow` names that
    route's methods only; a path served by several routes (`GET` and `POST` declared apart, or
    `/api/operations/{id}` beside `/api/operations/probe`) takes them all.
    """
    methods: set[str] = set()
    for route in iter_route_contexts(routes):
        declared = route.methods
        if not declared:
            continue  # mounts (static files) answer for themselves
        match, _ = route.matches(scope)
        if match is not Match.NONE:
            methods |= declared
    return sorted(methods)


def serves(routes: Sequence[BaseRoute], scope: Scope) -> bool:
    """Whether a route takes the request as it is (path and method)."""
    return any(route.matches(scope)[0] is Match.FULL for route in iter_route_contexts(routes))

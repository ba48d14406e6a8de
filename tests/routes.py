"""The app's routes as a flat list (FastAPI keeps included routers nested)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute


@dataclass(frozen=True)
class RouteInfo:
    method: str
    path: str
    dependant: Dependant
    # Dependencies an include added around the route's own.
    extra: tuple[object, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"


def _walk(routes: list[BaseRoute], prefix: str, extra: tuple[object, ...]) -> Iterator[RouteInfo]:
    for route in routes:
        if isinstance(route, APIRoute):
            for method in sorted(route.methods):
                yield RouteInfo(method, prefix + route.path, route.dependant, extra)
            continue
        original = getattr(route, "original_router", None)
        context = getattr(route, "include_context", None)
        if original is not None and context is not None:
            calls = tuple(d.dependency for d in context.dependencies)
            yield from _walk(original.routes, prefix + context.prefix, extra + calls)


def all_routes(app: FastAPI) -> list[RouteInfo]:
    return [r for r in _walk(list(app.router.routes), "", ()) if r.method != "HEAD"]

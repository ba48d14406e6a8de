"""Render every error in the envelope of the surface the request belongs to."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from stellwerk.exceptions import (
    BadRequest,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    StellwerkError,
    Unauthorized,
    ValidationFailed,
)
from stellwerk.surface import Surface, error_body, surface_for_path
from stellwerk.web import templates
from stellwerk.web.auth import LoginRequired, login_url

log = logging.getLogger(__name__)


def render(request: Request, error: StellwerkError) -> Response:
    surface = surface_for_path(request.url.path)
    if surface is Surface.WEB:
        page = templates.render(request, "error.html", {"error": error}, status_code=error.status)
        page.headers.update(error.headers)
        return page
    body = error_body(error, surface)
    return JSONResponse(body, status_code=error.status, headers=error.headers or None)


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(login_url(exc.next_path), status_code=303)


async def _stellwerk_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StellwerkError)
    return render(request, exc)


def _field_of(loc: Sequence[object]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or None


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "Invalid request"}
    field = _field_of(first.get("loc", ()))
    message = str(first.get("msg", "Invalid request"))
    if field:
        message = f"{field}: {message}"
    details = [
        {"field": _field_of(e.get("loc", ())), "message": str(e.get("msg", ""))}
        for e in errors[:20]
    ]
    return render(request, ValidationFailed(message, field=field, extra={"errors": details}))


_HTTP_ERRORS: dict[int, type[StellwerkError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    413: PayloadTooLarge,
}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    error_class = _HTTP_ERRORS.get(exc.status_code)
    if error_class is not None:
        error = error_class(str(exc.detail))
    else:
        code = "method_not_allowed" if exc.status_code == 405 else "http_error"
        error = StellwerkError(str(exc.detail), code=code, kind=code, status_code=exc.status_code)
    response = render(request, error)
    for key, value in (exc.headers or {}).items():
        response.headers[key] = value
    return response


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    if (
        isinstance(exc, DBAPIError)
        and not exc.connection_invalidated
        and not isinstance(exc, OperationalError)
    ):
        return await _internal_error(request, exc)
    log.error("database unavailable: %s", type(exc).__name__)
    return render(
        request,
        ServiceUnavailable(
            "The database is unavailable; try again shortly", headers={"Retry-After": "5"}
        ),
    )


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return render(request, StellwerkError("Internal server error"))


def install(app: FastAPI) -> None:
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(StellwerkError, _stellwerk_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(DBAPIError, _database_unavailable)
    app.add_exception_handler(ConnectionRefusedError, _database_unavailable)
    app.add_exception_handler(Exception, _internal_error)

"""Render every error in the envelope of the surface the request belongs to."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from stellwerk.database import OUT_OF_RANGE, causes, sqlstate
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
from stellwerk.kit.routing import allowed_methods, serves
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
    if exc.code == OUT_OF_RANGE:
        # A number in the path beyond what an id column holds names no row.
        for name, value in request.path_params.items():
            text = str(value)
            if text.lstrip("-").isdigit() and not -(2**31) <= int(text) < 2**31:
                return render(request, _not_found(name, text))
    return render(request, exc)


_LOCATIONS = ("body", "query", "path", "header", "cookie")


def _field_of(error: Mapping[str, Any]) -> str | None:
    """The dotted field an error is about: its location, or the field a body-wide rule names
    (`ctx["field"]`). Malformed JSON is about no field (its location is a character offset)."""
    if error.get("type") == "json_invalid":
        return None
    loc = list(error.get("loc", ()))
    if loc and loc[0] in _LOCATIONS:
        loc = loc[1:]
    named = (error.get("ctx") or {}).get("field")
    if isinstance(named, str):
        loc.append(named)
    return ".".join(str(part) for part in loc) or None


def _message_of(error: Mapping[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "malformed")
        return f"The body is not valid JSON: {reason} (at character {error['loc'][-1]})"
    return str(error.get("msg", "Invalid request"))


def _not_found(name: str, value: object) -> NotFound:
    """A path parameter that names nothing that could exist (of the wrong form, or a number
    beyond any id): 404, as for an id of the right form that exists nowhere."""
    noun = name.removesuffix("_id").removesuffix("_name").removesuffix("_key").replace("_", " ")
    return NotFound(f"No {noun} with {name} {value}", field=name)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    for error in errors:
        if error.get("loc", ())[:1] == ("path",):
            return render(request, _not_found(str(error["loc"][-1]), error.get("input")))
    first = errors[0] if errors else {"loc": (), "msg": "Invalid request"}
    field = _field_of(first)
    message = _message_of(first)
    if field:
        message = f"{field}: {message}"
    details = [{"field": _field_of(e), "message": _message_of(e)} for e in errors[:20]]
    return render(request, ValidationFailed(message, field=field, extra={"errors": details}))


def _malformed_body(cause: BaseException) -> ValidationFailed:
    """A JSON body the parser gave up on: one status (422) for every malformed body."""
    if isinstance(cause, RecursionError):
        reason = "it is nested too deeply"
    elif isinstance(cause, UnicodeDecodeError):
        reason = "it is not UTF-8 text"
    else:
        reason = str(cause) or type(cause).__name__
    message = f"The body is not valid JSON: {reason}"
    return ValidationFailed(message, extra={"errors": [{"field": None, "message": message}]})


_HTTP_ERRORS: dict[int, type[StellwerkError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    413: PayloadTooLarge,
}


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    cause = exc.__cause__
    if exc.status_code == 400 and isinstance(cause, (ValueError, RecursionError)):
        # FastAPI answers 400 for bodies its JSON parser raised on other than a syntax error.
        return render(request, _malformed_body(cause))
    if exc.status_code == 404 and surface_for_path(request.url.path) is Surface.WEB:
        other = _other_slash(request)
        if other is not None:
            return RedirectResponse(other, status_code=307)
    if exc.status_code == 405:
        methods = allowed_methods(request.app.router.routes, request.scope)
        if methods:
            headers["Allow"] = ", ".join(methods)
    error_class = _HTTP_ERRORS.get(exc.status_code)
    if error_class is not None:
        error = error_class(str(exc.detail))
    else:
        code = "method_not_allowed" if exc.status_code == 405 else "http_error"
        error = StellwerkError(str(exc.detail), code=code, kind=code, status_code=exc.status_code)
    response = render(request, error)
    for key, value in headers.items():
        response.headers[key] = value
    return response


def _other_slash(request: Request) -> str | None:
    """For a page: the same path with or without its trailing slash, if a route takes that.

    Only the web UI is forgiving about the slash; the APIs match paths exactly and never
    answer a redirect where a refusal is due."""
    path = request.url.path
    if path == "/" or request.method not in ("GET", "HEAD"):
        return None
    other = path.rstrip("/") if path.endswith("/") else path + "/"
    if (
        not other
        or other.startswith("//")
        or not serves(request.app.router.routes, {**request.scope, "path": other})
    ):
        return None
    query = request.url.query
    return other + (f"?{query}" if query else "")


# SQLSTATE classes of a database that cannot serve now: connection exceptions (08), insufficient
# resources (53: too many connections, disk full), operator intervention (57P01-57P03: shutting
# down, cannot connect now).
_UNAVAILABLE_SQLSTATES = ("08", "53", "57P01", "57P02", "57P03")


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    if (
        isinstance(exc, DBAPIError)
        and not exc.connection_invalidated
        and not isinstance(exc, OperationalError)
        and not any(
            (sqlstate(error) or "").startswith(_UNAVAILABLE_SQLSTATES) for error in causes(exc)
        )
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

"""Errors that Stellwerk answers with.

Every expected failure is a `StellwerkError`; the exception handlers render it in the envelope of
the surface the request belongs to (see `stellwerk.surface`). Services raise these, never
`HTTPException`.

    StellwerkError
    ├── BadRequest            400 bad_request
    ├── Unauthorized          401 unauthorized
    │   └── InvalidApiKey     401 invalid_api_key      (license API: the documented body)
    ├── Forbidden             403 forbidden
    │   ├── MissingScope      403 missing_scope        (`required` names the scope)
    │   └── RoleRequired      403 role_required        (`required` names the role)
    ├── NotFound              404 not_found
    ├── Conflict              409 conflict
    ├── PayloadTooLarge       413 payload_too_large
    ├── ValidationFailed      422 validation_error     (`field` names the field)
    ├── RateLimited           429 rate_limited         (`Retry-After`)
    └── ServiceUnavailable    503 unavailable

Domain packages subclass these next to their service (`class DomainTaken(Conflict)`).
"""

from __future__ import annotations

from typing import Any, ClassVar


class StellwerkError(Exception):
    status_code: ClassVar[int] = 500
    default_kind: ClassVar[str] = "internal_error"
    default_code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        status_code: int | None = None,
        kind: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.field = field
        self.extra = extra or {}
        self.headers = headers or {}
        self.status = status_code if status_code is not None else self.status_code
        self.kind = kind or self.default_kind


class BadRequest(StellwerkError):
    status_code = 400
    default_kind = "bad_request"
    default_code = "bad_request"


class Unauthorized(StellwerkError):
    status_code = 401
    default_kind = "unauthorized"
    default_code = "unauthorized"

    def __init__(self, message: str = "Authentication required", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class InvalidApiKey(Unauthorized):
    default_code = "invalid_api_key"

    def __init__(self) -> None:
        super().__init__("Invalid or missing API key", headers={})


class Forbidden(StellwerkError):
    status_code = 403
    default_kind = "forbidden"
    default_code = "forbidden"


class MissingScope(Forbidden):
    default_code = "missing_scope"

    def __init__(self, scope: str) -> None:
        super().__init__(f"This credential lacks the scope {scope}", extra={"required": scope})
        self.required = scope


class RoleRequired(Forbidden):
    """The credential holds the scope, but the action is for a higher role (staff: the company's
    people)."""

    default_code = "role_required"

    def __init__(self, role: str) -> None:
        super().__init__(f"This is for {role} accounts", extra={"required": role})
        self.required = role


class NotFound(StellwerkError):
    status_code = 404
    default_kind = "not_found"
    default_code = "not_found"


class Conflict(StellwerkError):
    status_code = 409
    default_kind = "conflict"
    default_code = "conflict"


class PayloadTooLarge(StellwerkError):
    status_code = 413
    default_kind = "payload_too_large"
    default_code = "payload_too_large"


class ValidationFailed(StellwerkError):
    status_code = 422
    default_kind = "validation_error"
    default_code = "validation_error"


class RateLimited(StellwerkError):
    status_code = 429
    default_kind = "rate_limited"
    default_code = "rate_limited"

    def __init__(self, retry_after: int, message: str = "Too many requests") -> None:
        super().__init__(
            message,
            headers={"Retry-After": str(max(1, retry_after))},
            extra={"retry_after": max(1, retry_after)},
        )
        self.retry_after = max(1, retry_after)


class ServiceUnavailable(StellwerkError):
    status_code = 503
    default_kind = "unavailable"
    default_code = "unavailable"

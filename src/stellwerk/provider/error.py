"""Every provider failure becomes a `ProviderError` with one of the normalized codes."""

from __future__ import annotations

from typing import Any

from stellwerk.exceptions import StellwerkError

MISSING_CREDENTIALS = "MISSING_CREDENTIALS"
INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
PROVIDER_NOT_FOUND = "PROVIDER_NOT_FOUND"
PROVIDER_INACTIVE = "PROVIDER_INACTIVE"
INVALID_ACTION = "INVALID_ACTION"
RATE_LIMIT_EXCEEDED = "RATE_LIMIT_EXCEEDED"
INSUFFICIENT_RESOURCES = "INSUFFICIENT_RESOURCES"
VALIDATION_ERROR = "VALIDATION_ERROR"
NOT_FOUND = "NOT_FOUND"
CONFLICT = "CONFLICT"
API_ERROR = "API_ERROR"
UNKNOWN_ERROR = "UNKNOWN_ERROR"

_STATUS = {
    MISSING_CREDENTIALS: 400,
    INVALID_CREDENTIALS: 400,
    PROVIDER_NOT_FOUND: 404,
    PROVIDER_INACTIVE: 409,
    INVALID_ACTION: 400,
    RATE_LIMIT_EXCEEDED: 429,
    INSUFFICIENT_RESOURCES: 409,
    VALIDATION_ERROR: 400,
    NOT_FOUND: 404,
    CONFLICT: 409,
    API_ERROR: 502,
    UNKNOWN_ERROR: 500,
}

# Worth another try: the provider may answer differently in a moment.
TRANSIENT_CODES = frozenset({RATE_LIMIT_EXCEEDED, API_ERROR})


class ProviderError(StellwerkError):
    """A provider said no (or nothing). `original` keeps the provider's own answer for logs."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        provider: str,
        field: str | None = None,
        original: Any = None,
        http_status: int | None = None,
        retry_after: float | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(
            message,
            code=code,
            field=field,
            status_code=_STATUS.get(code, 502),
            kind="provider_error",
        )
        self.provider = provider
        self.original = original
        self.http_status = http_status
        self.retry_after = retry_after
        # The provider says "not now" without a 5xx or 429 (Hetzner `locked`, a Coolify project
        # whose applications are still being deleted): worth another try in a moment.
        self.retryable = retryable
        if retry_after is not None:
            self.headers = {"Retry-After": str(max(1, int(retry_after)))}

    @property
    def transient(self) -> bool:
        """A 5xx, a timeout or a rate limit: retrying may help. Never a 4xx verdict."""
        if self.code == RATE_LIMIT_EXCEEDED or self.retryable:
            return True
        return self.code == API_ERROR and (self.http_status is None or self.http_status >= 500)

    def __repr__(self) -> str:
        return f"ProviderError({self.code!r}, {self.message!r}, provider={self.provider!r})"

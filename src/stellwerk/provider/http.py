"""The HTTP client every REST adapter uses: budget, retries on transient failures only, per-call
timeouts, `Retry-After`/`RateLimit-Reset`, and one log line per call without secrets."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from stellwerk.kit.logs import request_id_var
from stellwerk.provider.action import Backoff, exponential_backoff
from stellwerk.provider.budget import Budget
from stellwerk.provider.error import API_ERROR, RATE_LIMIT_EXCEEDED, ProviderError

log = logging.getLogger("stellwerk.provider")

ErrorMapper = Callable[[httpx.Response], ProviderError]
SAFE_TO_REPEAT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RESET_HEADERS = ("ratelimit-reset", "x-ratelimit-reset")


def retry_after(
    headers: Mapping[str, str], *, refill_per_second: float | None = None
) -> float | None:
    """Seconds to wait after a 429: `Retry-After`; for a token bucket (Hetzner), the time one
    request takes to refill (its `RateLimit-Reset` is when the *whole* bucket is full again);
    else an epoch `RateLimit-Reset`."""
    value = headers.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
    if refill_per_second:
        return 1.0 / refill_per_second + 0.1
    for name in RESET_HEADERS:
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) - time.time())
            except ValueError:
                continue
    return None


def retry_after_seconds(
    response: httpx.Response, *, refill_per_second: float | None = None
) -> float | None:
    return retry_after(response.headers, refill_per_second=refill_per_second)


class ProviderHttp:
    def __init__(
        self,
        *,
        provider: str,
        base_url: str,
        headers: Mapping[str, str],
        map_error: ErrorMapper,
        budget: Budget | None = None,
        budget_key: tuple[str, ...] = (),
        timeout: float = 30.0,
        max_attempts: int = 4,
        backoff: Backoff | None = None,
        max_retry_wait: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
        refill_per_second: float | None = None,
    ) -> None:
        self.provider = provider
        self.refill_per_second = refill_per_second
        self.map_error = map_error
        self.budget = budget
        self.budget_key = budget_key
        self.max_attempts = max_attempts
        self.backoff = backoff or exponential_backoff(base=0.5, multiplier=2.0, cap=20.0)
        self.max_retry_wait = max_retry_wait
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=dict(headers),
            timeout=timeout,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        idempotent: bool | None = None,
        budget_extra: str | None = None,
    ) -> httpx.Response:
        """Send one request; 2xx comes back, anything else raises `ProviderError`.

        Transient failures (timeouts, 5xx, 429) are retried with backoff; a request that may have
        changed something (POST, PATCH) is repeated only if `idempotent` says it is safe.
        """
        repeatable = method.upper() in SAFE_TO_REPEAT if idempotent is None else idempotent
        correlation_id = request_id_var.get() or uuid.uuid4().hex[:16]
        attempt = 0
        while True:
            attempt += 1
            if self.budget is not None:
                await self.budget.acquire(
                    *self.budget_key, *(budget_extra,) if budget_extra else ()
                )
            started = time.perf_counter()
            try:
                response = await self.client.request(
                    method,
                    path,
                    json=json,
                    params=params,
                    headers={"X-Request-Id": correlation_id, **(headers or {})},
                    timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TransportError as error:
                self._log(method, path, None, started, correlation_id, attempt)
                sent = not isinstance(error, httpx.ConnectError)
                failure = ProviderError(
                    API_ERROR,
                    f"{self.provider} did not answer: {type(error).__name__}",
                    provider=self.provider,
                    original=repr(error),
                )
                if attempt < self.max_attempts and (repeatable or not sent):
                    await asyncio.sleep(self.backoff(attempt - 1))
                    continue
                raise failure from error
            self._log(method, path, response.status_code, started, correlation_id, attempt)
            if response.is_success:
                return response
            failure = self.map_error(response)
            failure.http_status = response.status_code
            if response.status_code == 429:
                failure.code = RATE_LIMIT_EXCEEDED
                failure.retry_after = retry_after_seconds(
                    response, refill_per_second=self.refill_per_second
                )
            retryable = (
                response.status_code == 429
                or (response.status_code >= 500 and repeatable)
                or (failure.retryable and repeatable)
            )
            if retryable and attempt < self.max_attempts:
                wait = failure.retry_after
                if wait is None:
                    wait = self.backoff(attempt - 1)
                if wait <= self.max_retry_wait:
                    await asyncio.sleep(wait)
                    continue
            raise failure

    def _log(
        self,
        method: str,
        path: str,
        status: int | None,
        started: float,
        correlation_id: str,
        attempt: int,
    ) -> None:
        log.info(
            "%s %s %s %s",
            self.provider,
            method,
            path.split("?", 1)[0],
            status if status is not None else "no-answer",
            extra={
                "provider": self.provider,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "correlation_id": correlation_id,
                "attempt": attempt,
            },
        )

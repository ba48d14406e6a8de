"""Budgets, retries and the call log for the synchronous SDKs (hcloud, linode_api4).

Those SDKs talk through a `requests.Session`; `BudgetedAdapter` is mounted on it. Each request
first takes a slot of the token's budget (on the event loop that owns the budget, since the SDK
runs in a worker thread), a 429 is retried after `Retry-After`/`RateLimit-Reset`, a 5xx or a
connection failure only for requests that are safe to repeat, and every call is logged (method,
path, status, duration, correlation id) without headers or bodies.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from stellwerk.kit.logs import request_id_var
from stellwerk.provider.action import Backoff, exponential_backoff
from stellwerk.provider.budget import Budget
from stellwerk.provider.http import retry_after

log = logging.getLogger("stellwerk.provider")

SAFE_TO_REPEAT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
RESET_HEADERS = ("ratelimit-reset", "x-ratelimit-reset")

# Which budgets a request takes: gets the method and the path, returns (budget, identifiers).
BudgetPicker = Callable[[str, str], list[tuple[Budget, tuple[str, ...]]]]


def retry_after_of(
    response: requests.Response, *, refill_per_second: float | None = None
) -> float | None:
    return retry_after(response.headers, refill_per_second=refill_per_second)


class BudgetedAdapter(HTTPAdapter):
    def __init__(
        self,
        *,
        provider: str,
        loop: asyncio.AbstractEventLoop,
        budgets: BudgetPicker,
        max_attempts: int = 4,
        backoff: Backoff | None = None,
        max_retry_wait: float = 60.0,
        refill_per_second: float | None = None,
    ) -> None:
        super().__init__(max_retries=0)
        self.refill_per_second = refill_per_second
        self.provider = provider
        self.loop = loop
        self.budgets = budgets
        self.max_attempts = max_attempts
        self.backoff = backoff or exponential_backoff(base=0.5, multiplier=2.0, cap=20.0)
        self.max_retry_wait = max_retry_wait
        self.correlation_id = request_id_var.get() or uuid.uuid4().hex[:16]

    def _acquire(self, method: str, path: str) -> None:
        for budget, identifiers in self.budgets(method, path):
            future = asyncio.run_coroutine_threadsafe(budget.acquire(*identifiers), self.loop)
            future.result(timeout=180)

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        method = (request.method or "GET").upper()
        path = (request.path_url or "/").split("?", 1)[0]
        request.headers.setdefault("X-Request-Id", self.correlation_id)
        attempt = 0
        while True:
            attempt += 1
            self._acquire(method, path)
            started = time.perf_counter()
            try:
                response = super().send(request, **kwargs)
            except (requests.ConnectionError, requests.Timeout):
                self._log(method, path, None, started, attempt)
                if attempt < self.max_attempts and method in SAFE_TO_REPEAT:
                    time.sleep(self.backoff(attempt - 1))
                    continue
                raise
            self._log(method, path, response.status_code, started, attempt)
            retryable = response.status_code == 429 or (
                response.status_code >= 500 and method in SAFE_TO_REPEAT
            )
            if retryable and attempt < self.max_attempts:
                wait = (
                    retry_after_of(response, refill_per_second=self.refill_per_second)
                    if response.status_code == 429
                    else None
                )
                if wait is None:
                    wait = self.backoff(attempt - 1)
                if wait <= self.max_retry_wait:
                    response.close()
                    time.sleep(wait)
                    continue
            return response

    def _log(
        self, method: str, path: str, status: int | None, started: float, attempt: int
    ) -> None:
        log.info(
            "%s %s %s %s",
            self.provider,
            method,
            path,
            status if status is not None else "no-answer",
            extra={
                "provider": self.provider,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                "correlation_id": self.correlation_id,
                "attempt": attempt,
            },
        )


def mount(session: requests.Session, adapter: BudgetedAdapter) -> None:
    session.mount("http://", adapter)
    session.mount("https://", adapter)

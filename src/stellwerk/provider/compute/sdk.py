"""What the adapters on synchronous SDKs (hcloud, linode_api4) share: calls in worker threads,
budgets and retries through `BudgetedAdapter`, and cloud-init for what an API cannot take."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import requests

from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.provider import registry
from stellwerk.provider.action import Backoff
from stellwerk.provider.budget import Budget, token_fingerprint
from stellwerk.provider.error import API_ERROR, ProviderError
from stellwerk.provider.sync_http import BudgetedAdapter, BudgetPicker, mount

T = TypeVar("T")

# SDK calls get threads of their own: a call waiting for its budget holds its thread, and the
# budget store itself uses the loop's default executor (sharing it could deadlock).
SDK_EXECUTOR = ThreadPoolExecutor(max_workers=32, thread_name_prefix="provider-sdk")


def budget_for(
    limiter: RateLimiter, key: str, budgets: dict[str, tuple[str, ...]] | None
) -> Budget:
    limits = (budgets or {}).get(key) or registry.budget_limits(key)
    return Budget(limiter, limits)


class SdkAdapter:
    """Base for adapters whose SDK is synchronous: `_call` runs it in a thread and maps errors."""

    name: str

    def __init__(
        self,
        *,
        token: str,
        limiter: RateLimiter,
        budgets: dict[str, tuple[str, ...]] | None = None,
        max_attempts: int = 4,
        backoff: Backoff | None = None,
    ) -> None:
        self._fingerprint = token_fingerprint(token)
        self._limiter = limiter
        self._budgets = budgets
        self._max_attempts = max_attempts
        self._backoff = backoff

    def _mount(self, session: requests.Session, picker: BudgetPicker) -> None:
        adapter = BudgetedAdapter(
            provider=self.name,
            loop=asyncio.get_running_loop(),
            budgets=picker,
            max_attempts=self._max_attempts,
            backoff=self._backoff,
            refill_per_second=registry.entry(self.name).refill_per_second,
        )
        mount(session, adapter)

    def _map(self, error: Exception) -> ProviderError:  # pragma: no cover - overridden
        raise NotImplementedError

    async def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            context = contextvars.copy_context()
            call = functools.partial(context.run, function, *args, **kwargs)
            return await asyncio.get_running_loop().run_in_executor(SDK_EXECUTOR, call)
        except ProviderError:
            raise
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,  # the connection broke mid-answer
        ) as error:
            raise ProviderError(
                API_ERROR,
                f"{self.name} did not answer: {type(error).__name__}",
                provider=self.name,
                original=repr(error),
            ) from error
        except Exception as error:
            raise self._map(error) from error


def cloud_config(
    *, root_password: str | None, ssh_keys: Sequence[str], user_data: str | None
) -> str | None:
    """cloud-init user data setting a root password and authorized keys, for APIs without them.

    Given `user_data` wins (it is the caller's own script)."""
    if user_data:
        return user_data
    if not root_password and not ssh_keys:
        return None
    config: dict[str, Any] = {}
    if root_password:
        config["chpasswd"] = {
            "expire": False,
            "users": [{"name": "root", "password": root_password, "type": "text"}],
        }
        config["ssh_pwauth"] = True
    if ssh_keys:
        config["users"] = [{"name": "root", "ssh_authorized_keys": list(ssh_keys)}]
    # JSON is YAML: cloud-init reads it as written.
    return "#cloud-config\n" + json.dumps(config, indent=2)


def is_public_key(value: str) -> bool:
    return value.startswith(("ssh-", "ecdsa-", "sk-ssh-", "sk-ecdsa-"))

"""Long provider work as an action that can be waited for, with injectable backoff."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

ActionStatus = Literal["running", "success", "error"]
Backoff = Callable[[int], float]


def exponential_backoff(
    *, base: float = 1.0, multiplier: float = 2.0, cap: float = 60.0, jitter: bool = True
) -> Backoff:
    """Seconds before retry `n` (from 0): base * multiplier**n, capped, with full jitter."""

    def backoff(retries: int) -> float:
        delay: float = min(cap, base * multiplier**retries)
        return random.uniform(0, delay) if jitter else delay

    return backoff


def constant_backoff(seconds: float) -> Backoff:
    return lambda _retries: seconds


class ActionFailed(Exception):
    def __init__(self, action: Action, message: str) -> None:
        super().__init__(message)
        self.action = action


class ActionTimeout(Exception):
    def __init__(self, action: Action) -> None:
        super().__init__(f"{action.command} {action.id} did not finish in time")
        self.action = action


@dataclass
class Action:
    """A provider's record of work in progress (a Hetzner action, a DO droplet action, a Coolify
    deployment). `refresh` asks the provider for the current state."""

    id: str
    command: str
    status: ActionStatus
    progress: int
    refresh: Callable[[], Awaitable[Action]]
    error: str | None = None

    async def wait_until_finished(
        self, *, max_retries: int = 120, backoff: Backoff | None = None
    ) -> Action:
        backoff = backoff or exponential_backoff(base=0.5, multiplier=1.5, cap=10.0)
        current = self
        for retries in range(max_retries + 1):
            if current.status == "success":
                return current
            if current.status == "error":
                raise ActionFailed(current, current.error or f"{current.command} failed")
            if retries == max_retries:
                break
            await asyncio.sleep(backoff(retries))
            current = await current.refresh()
        raise ActionTimeout(current)

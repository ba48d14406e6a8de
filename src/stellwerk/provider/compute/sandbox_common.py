"""What the compute sandboxes share: their state and clocks, JSON bodies, delays, IP addresses."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from stellwerk.provider.sandbox.kit import JsonState

# Seconds until a new server runs and until an action finishes; `STELLWERK_SANDBOX_*` override.
DEFAULT_PROVISION_DELAY = float(os.environ.get("STELLWERK_SANDBOX_PROVISION_SECONDS", "3"))
DEFAULT_ACTION_DELAY = float(os.environ.get("STELLWERK_SANDBOX_ACTION_SECONDS", "2"))


def iso(epoch: float, *, zulu: bool = True) -> str:
    value = dt.datetime.fromtimestamp(epoch, dt.UTC).replace(microsecond=0)
    text = value.isoformat()
    return text.replace("+00:00", "Z") if zulu else text.replace("+00:00", "")


def now() -> float:
    return time.time()


async def body_of(request: Request) -> dict[str, Any] | None:
    """The JSON object sent, or None when the body is not a JSON object."""
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def ipv4_for(server_id: int) -> str:
    """A documentation address (TEST-NET-3) per server, stable across restarts."""
    return str(ipaddress.IPv4Address("203.0.113.0") + (server_id % 250) + 2)


def ipv6_for(server_id: int) -> str:
    return str(ipaddress.IPv6Address("2001:db8::") + (server_id << 64) + 1)


def int_param(request: Request, name: str, default: int, *, low: int, high: int) -> int | None:
    """A bounded integer query parameter; None when it is not a number in range."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if low <= value <= high else None


def progress_of(started: float, duration: float) -> int:
    if duration <= 0:
        return 100
    return max(0, min(100, int(100 * (now() - started) / duration)))


class ComputeSandbox:
    """A provider's persisted state, and servers that change status on a clock."""

    def __init__(
        self,
        state: JsonState,
        *,
        provision_delay: float = DEFAULT_PROVISION_DELAY,
        action_delay: float = DEFAULT_ACTION_DELAY,
    ) -> None:
        self.state = state
        self.provision_delay = provision_delay
        self.action_delay = action_delay

    def table(self, name: str) -> dict[str, dict[str, Any]]:
        """Records by id, one of the state's top-level tables."""
        records: dict[str, dict[str, Any]] = self.state.data[name]
        return records

    @staticmethod
    def settle(server: dict[str, Any]) -> None:
        """Apply the status changes whose time has come (booting → running, …); a transition
        may carry the next one (`then`)."""
        transition = server.get("transition")
        while transition and now() >= transition["at"]:
            server["status"] = transition["to"]
            transition = transition.get("then")
            server["transition"] = transition

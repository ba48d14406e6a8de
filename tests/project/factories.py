from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

FINAL_STATES = ("active", "error", "archived", "suspended")


async def wait_for_project(
    client: httpx.AsyncClient, headers: dict[str, str], project_id: int, timeout: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await client.get(f"/api/projects/{project_id}", headers=headers)
        body = response.json()
        operation = body.get("operation") or {}
        if body["state"] in FINAL_STATES and operation.get("status") in (
            "completed",
            "failed",
            "cancelled",
        ):
            return body
        await asyncio.sleep(0.2)
    raise AssertionError(f"project {project_id} did not finish: {body}")

"""Every provider error body the adapters can meet becomes the documented normalized code."""

from __future__ import annotations

from typing import Any

import hcloud
import httpx
import linode_api4
import pytest

from stellwerk.provider.compute.base import Compute
from stellwerk.provider.compute.digitalocean.adapter import map_digitalocean_error
from stellwerk.provider.compute.hetzner.adapter import map_hetzner_error
from stellwerk.provider.compute.linode.adapter import map_linode_error
from stellwerk.provider.error import ProviderError
from tests.provider.compute.conftest import Sandbox


@pytest.mark.parametrize(
    ("code", "details", "expected", "field"),
    [
        ("unauthorized", {}, "INVALID_CREDENTIALS", None),
        ("forbidden", {}, "INVALID_CREDENTIALS", None),
        (
            "invalid_input",
            {"fields": [{"name": "server_type", "messages": ["not found"]}]},
            "VALIDATION_ERROR",
            "plan",
        ),
        ("uniqueness_error", {}, "VALIDATION_ERROR", "name"),
        ("not_found", {}, "NOT_FOUND", None),
        ("resource_limit_exceeded", {}, "INSUFFICIENT_RESOURCES", None),
        ("resource_unavailable", {}, "INSUFFICIENT_RESOURCES", None),
        ("locked", {}, "CONFLICT", None),
        ("rate_limit_exceeded", {}, "RATE_LIMIT_EXCEEDED", None),
        ("server_error", {}, "API_ERROR", None),
        ("maintenance", {}, "API_ERROR", None),
    ],
)
def test_hetzner_codes(
    code: str, details: dict[str, Any], expected: str, field: str | None
) -> None:
    error = map_hetzner_error(hcloud.APIException(code, "message", details))
    assert (error.code, error.field, error.provider) == (expected, field, "hetzner")


@pytest.mark.parametrize(
    ("status", "body", "expected", "field"),
    [
        (401, {"errors": [{"reason": "Invalid Token"}]}, "INVALID_CREDENTIALS", None),
        (403, {"errors": [{"reason": "Unauthorized"}]}, "INVALID_CREDENTIALS", None),
        (404, {"errors": [{"reason": "Not found"}]}, "NOT_FOUND", None),
        (
            400,
            {"errors": [{"field": "type", "reason": "A valid plan type by that ID was not found"}]},
            "VALIDATION_ERROR",
            "plan",
        ),
        (400, {"errors": [{"reason": "Account limit reached"}]}, "INSUFFICIENT_RESOURCES", None),
        (429, {"errors": [{"reason": "Too many requests"}]}, "RATE_LIMIT_EXCEEDED", None),
        (500, {"errors": [{"reason": "Server error"}]}, "API_ERROR", None),
    ],
)
def test_linode_codes(status: int, body: dict[str, Any], expected: str, field: str | None) -> None:
    error = map_linode_error(linode_api4.ApiError("x", status=status, json=body))
    assert (error.code, error.field, error.provider) == (expected, field, "linode")


@pytest.mark.parametrize(
    ("status", "body", "expected", "field"),
    [
        (
            401,
            {"id": "unauthorized", "message": "Unable to authenticate you."},
            "INVALID_CREDENTIALS",
            None,
        ),
        (
            403,
            {"id": "forbidden", "message": "You do not have access"},
            "INVALID_CREDENTIALS",
            None,
        ),
        (
            404,
            {"id": "not_found", "message": "The resource you requested could not be found."},
            "NOT_FOUND",
            None,
        ),
        (
            422,
            {
                "id": "unprocessable_entity",
                "message": "You specified an invalid size for Droplet creation.",
            },
            "VALIDATION_ERROR",
            "plan",
        ),
        (
            422,
            {"id": "unprocessable_entity", "message": "You specified an invalid SSH key."},
            "VALIDATION_ERROR",
            "ssh_keys",
        ),
        (
            422,
            {
                "id": "unprocessable_entity",
                "message": "creating this droplet will exceed your droplet limit",
            },
            "INSUFFICIENT_RESOURCES",
            None,
        ),
        (
            429,
            {"id": "too_many_requests", "message": "API rate limit exceeded."},
            "RATE_LIMIT_EXCEEDED",
            None,
        ),
        (500, {"id": "server_error", "message": "Unexpected server-side error"}, "API_ERROR", None),
        (502, {}, "API_ERROR", None),
    ],
)
def test_digitalocean_codes(
    status: int, body: dict[str, Any], expected: str, field: str | None
) -> None:
    error = map_digitalocean_error(httpx.Response(status, json=body))
    assert (error.code, error.field, error.provider) == (expected, field, "digitalocean")


async def test_a_limit_that_holds_is_rate_limit_exceeded(
    compute: Compute, compute_sandbox: Sandbox
) -> None:
    await compute_sandbox.fault(kind="rate_limit", retry_after=0, count=10)
    with pytest.raises(ProviderError) as caught:
        await compute.list_regions()
    assert caught.value.code == "RATE_LIMIT_EXCEEDED"
    assert caught.value.status == 429
    assert len(await compute_sandbox.requests()) == 4  # the first try and three retries


async def test_timeouts_become_api_errors(compute_sandbox: Sandbox) -> None:
    from tests.provider.compute.conftest import make_compute

    await compute_sandbox.fault(kind="timeout", delay=3, count=10)
    adapter = make_compute(compute_sandbox)
    try:
        client = getattr(adapter, "http", None)
        if client is not None:  # DigitalOcean: httpx
            client.client.timeout = httpx.Timeout(0.3)
        else:  # SDKs: requests
            for session in _sessions(adapter):
                session.request = _short(session.request)
        with pytest.raises(ProviderError) as caught:
            await adapter.list_regions()
        assert caught.value.code == "API_ERROR"
    finally:
        await adapter.aclose()


def _sessions(adapter: Any) -> list[Any]:
    client = adapter.client
    if hasattr(client, "session"):
        return [client.session]
    return [client._client._session]


def _short(request: Any) -> Any:
    def send(*args: Any, **kwargs: Any) -> Any:
        kwargs["timeout"] = 0.3
        return request(*args, **kwargs)

    return send

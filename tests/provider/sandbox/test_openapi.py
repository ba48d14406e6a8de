"""The sandboxes check bodies against their provider's OpenAPI document: a body the provider
refuses never reaches the sandbox and is answered in the provider's words; an answer of the
sandbox that strays from the document is a 500 that says so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest_asyncio
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from stellwerk.provider.compute.digitalocean.sandbox import create_app as digitalocean_app
from stellwerk.provider.compute.hetzner.sandbox import create_app as hetzner_app
from stellwerk.provider.paas.coolify.sandbox import create_app as coolify_app
from stellwerk.provider.sandbox.kit import start_server
from stellwerk.provider.sandbox.openapi import OpenApiCheck, Problem, Spec

HEADERS = {"Authorization": "Bearer sandbox-openapi"}


@pytest_asyncio.fixture
async def http() -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    running = {
        "hetzner": await start_server(hetzner_app(None), name="hetzner", suffix="/v1"),
        "digitalocean": await start_server(digitalocean_app(None), name="digitalocean"),
        "coolify": await start_server(coolify_app(None), name="coolify", suffix="/api/v1"),
    }
    clients = {n: httpx.AsyncClient(base_url=r.url, headers=HEADERS) for n, r in running.items()}
    yield clients
    for name, client in clients.items():
        await client.aclose()
        await running[name].stop()


async def test_hetzner_refuses_an_unknown_field_as_invalid_input(
    http: dict[str, httpx.AsyncClient],
) -> None:
    body = {"name": "web-1", "server_type": "cx23", "image": "ubuntu-24.04", "colour": "red"}
    response = await http["hetzner"].post("/servers", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["details"]["fields"] == [{"name": "colour", "messages": ["unknown field"]}]
    assert (await http["hetzner"].get("/servers")).json()["servers"] == []


async def test_hetzner_refuses_a_wrong_type(http: dict[str, httpx.AsyncClient]) -> None:
    body = {"name": "web-1", "server_type": "cx23", "image": "ubuntu-24.04", "labels": "x"}
    response = await http["hetzner"].post("/servers", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["details"]["fields"][0]["name"] == "labels"


async def test_digitalocean_refuses_as_unprocessable_entity(
    http: dict[str, httpx.AsyncClient],
) -> None:
    body = {"name": "web-1", "region": "nyc3", "size": "s-1vcpu-1gb", "image": 5, "ssh": []}
    response = await http["digitalocean"].post("/v2/droplets", json=body)
    assert response.status_code == 422
    assert response.json()["id"] == "unprocessable_entity"
    assert "ssh" in response.json()["message"]


async def test_coolify_refuses_a_field_that_is_not_allowed(
    http: dict[str, httpx.AsyncClient],
) -> None:
    response = await http["coolify"].post("/projects", json={"name": "p", "owner": "me"})
    assert response.status_code == 422
    assert response.json() == {
        "message": "Validation failed.",
        "errors": {"owner": ["This field is not allowed."]},
    }


async def test_an_answer_that_strays_from_the_spec_is_a_500() -> None:
    """The checker holds the sandbox to the document: here a server list missing `meta`."""

    async def servers(_: Any) -> JSONResponse:
        return JSONResponse({"servers": []})

    def refuse(problems: list[Problem]) -> JSONResponse:
        return JSONResponse({"refused": [p.field for p in problems]}, status_code=400)

    spec = Spec.load("stellwerk.provider.compute.hetzner", prefix="/v1")
    app = OpenApiCheck(Starlette(routes=[Route("/v1/servers", servers)]), spec=spec, refuse=refuse)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
    ) as client:
        response = await client.get("/v1/servers")
    assert response.status_code == 500
    assert "meta" in response.json()["message"]

"""How errors are rendered, through the HTTP API: ids that cannot exist, malformed bodies, the
fields validation errors name, 405 and its `Allow`, paths with a stray slash, and the missing-scope
answer of every surface against the schema its operations declare."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError

from stellwerk import exception_handlers
from stellwerk.runtime import Runtime
from stellwerk.surface import Surface, surface_for_path
from tests.factories import admin_headers, bearer, create_admin, create_token

UUID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
ENVELOPES = {
    Surface.REDIRECT: "RedirectError",
    Surface.SERVER: "ServerError",
    Surface.LICENSE: "LicenseError",
    Surface.GENERIC: "GenericError",
}


def declared_envelope(document: dict[str, Any], surface: Surface) -> dict[str, Any]:
    ref = f"#/components/schemas/{ENVELOPES[surface]}"
    return {"$ref": ref, "components": document["components"]}


async def openapi(client: httpx.AsyncClient) -> dict[str, Any]:
    document: dict[str, Any] = (await client.get("/api/openapi.json")).json()
    return document


async def everything(runtime: Runtime) -> dict[str, str]:
    """An admin's token (every route takes it, `/api/v1` too)."""
    admin = await create_admin(runtime)
    return bearer(await create_token(runtime, admin, ["admin"]))


# --- ids that cannot exist ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api/projects/{UUID}"),
        ("POST", "/api/projects/abc/retry"),
        ("GET", "/api/vps/abc"),
        ("GET", "/api/v1/domains/abc"),
        ("GET", "/api/operations/abc"),
        ("GET", "/api/admin/users/abc"),
        ("DELETE", "/api/tokens/abc"),
        ("GET", "/api/admin/providers/abc"),
        ("GET", "/api/registrar/contacts/abc"),
        ("GET", "/modules/status/abc"),
        ("GET", "/repository/install/status/abc"),
        # Numbers beyond any id column: as absent as any other id.
        ("GET", "/api/projects/99999999999999999999999"),
        ("GET", "/api/customers/99999999999999999999999"),
        ("GET", "/api/admin/users/3000000000"),
    ],
)
async def test_an_id_that_cannot_exist_is_404_in_the_envelope(
    method: str, path: str, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    response = await client.request(method, path, headers=await everything(runtime))
    assert response.status_code == 404, response.text
    surface = surface_for_path(path)
    jsonschema.validate(response.json(), declared_envelope(await openapi(client), surface))
    assert response.json()["code"].lower() in ("not_found", "operation_not_found")


# --- malformed bodies and the fields errors name ------------------------------------------

MALFORMED = {
    "syntax": b'{"name": "x",}',
    "deep nesting": b"[" * 100_000,
    "deep objects": b'{"a":' * 50_000,
    "invalid UTF-8": b'{"name": "\xff\xfe"}',
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
@pytest.mark.parametrize("path", ["/api/customers", "/api/dns/zones", "/api/admin/providers"])
async def test_every_malformed_body_is_422_about_no_field(
    kind: str, path: str, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    headers = {**await admin_headers(runtime), "Content-Type": "application/json"}
    response = await client.post(path, content=MALFORMED[kind], headers=headers)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"].lower() == "validation_error"
    assert body.get("field") is None, body
    assert [e["field"] for e in body["errors"]] == [None]
    assert "not valid JSON" in body["errors"][0]["message"]


async def test_a_syntax_error_says_where(client: httpx.AsyncClient, runtime: Runtime) -> None:
    headers = {**await admin_headers(runtime), "Content-Type": "application/json"}
    response = await client.post("/api/customers", content=b'{"name": ', headers=headers)
    assert response.json()["error"] == (
        "The body is not valid JSON: Expecting value (at character 9)"
    )


async def test_an_invalid_email_names_its_field(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    headers = await admin_headers(runtime)
    users = await client.post(
        "/api/admin/users",
        json={"username": "mailer", "password": "long-enough-pass", "email": "nope"},
        headers=headers,
    )
    assert (users.status_code, users.json()["field"]) == (422, "email")
    customers = await client.post(
        "/api/customers", json={"name": "ACME", "email": "nope"}, headers=headers
    )
    assert (customers.status_code, customers.json()["field"]) == (422, "email")


# --- 405 and a stray slash ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/api/customers", "GET, POST"),
        ("PUT", "/api/operations/probe", "GET, POST"),  # `/api/operations/{id}` matches too
        ("DELETE", "/api/vps", "GET, POST"),
        ("PATCH", "/api/licenses/1", "DELETE, GET, PUT"),
        ("PUT", "/api/registrar/domains/check", "GET, POST"),
        ("DELETE", "/ui/tokens", "GET, POST"),
    ],
)
async def test_allow_names_every_method_of_the_path(
    method: str, path: str, allow: str, client: httpx.AsyncClient
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow


@pytest.mark.parametrize(
    "path", ["/modules/primary/....%2F%2F", "/modules/primary/..%2F", "/api/customers/"]
)
async def test_the_apis_refuse_a_stray_slash_instead_of_redirecting(
    path: str, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    response = await client.get(path, headers=await everything(runtime))
    assert response.status_code == 404, (response.status_code, response.headers)
    assert "location" not in response.headers


async def test_pages_still_forgive_a_stray_slash(client: httpx.AsyncClient) -> None:
    for path, target in (
        ("/leads", "/leads/"),
        ("/ui/dns/", "/ui/dns"),
        ("/ui/tokens/?a=1", "/ui/tokens?a=1"),
    ):
        response = await client.get(path)
        assert (response.status_code, response.headers["location"]) == (307, target)


# --- the missing-scope answer on every surface ------------------------------------------------


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/api/v1/domains", {}),
        ("/api/dns/zones", {"detail": "This credential lacks the scope read:dns"}),
        ("/modules/instances", {"detail": "This credential lacks the scope read:modules"}),
        ("/api/vps", {"success": False, "field": None}),
        ("/api/customers", {"status": 403}),
    ],
)
async def test_missing_scope_matches_the_declared_schema(
    path: str, extra: dict[str, Any], client: httpx.AsyncClient, runtime: Runtime
) -> None:
    admin = await create_admin(runtime)
    narrow = bearer(await create_token(runtime, admin, ["read:hits"]))
    response = await client.get(path, headers=narrow)
    assert response.status_code == 403
    required = response.json()["required"]
    assert response.json() == {
        "error": "forbidden",
        "code": "missing_scope",
        "required": required,
        **extra,
    }
    document = await openapi(client)
    declared = document["paths"][path]["get"]["responses"]["4XX"]["content"]["application/json"]
    assert declared["schema"]["$ref"].endswith(ENVELOPES[surface_for_path(path)])
    jsonschema.validate(response.json(), declared_envelope(document, surface_for_path(path)))


class _ServerError(Exception):
    def __init__(self, message: str, sqlstate: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "status"),
    [
        ("53300", 503),  # too many connections
        ("57P03", 503),  # the server is starting or stopping
        ("08006", 503),  # the connection broke
        ("42601", 500),  # a syntax error is ours
    ],
)
async def test_a_database_that_cannot_serve_now_is_503(sqlstate: str, status: int) -> None:
    app = FastAPI()
    exception_handlers.install(app)

    @app.get("/api/v1/thing")
    async def thing() -> None:
        raise DBAPIError("SELECT 1", None, _ServerError("refused", sqlstate))

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/api/v1/thing")
    assert response.status_code == status
    if status == 503:
        assert response.headers["retry-after"] == "5"
        assert "refused" not in response.text  # the database's words stay in the log

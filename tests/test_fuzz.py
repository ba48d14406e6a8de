"""Schema fuzzing: every operation of /api/openapi.json, with generated valid and invalid input.

Each operation gets a few deterministic examples (valid and invalid) sent with a credential that
may call it, on SQLite and on PostgreSQL. Every answer must be free of server errors, match the
response schema the operation declares, and, for a 4xx, use its surface's error envelope.

Schemathesis generates the cases; they are sent through httpx's ASGI transport on the test's
event loop. Schemathesis's own ASGI client runs the app (and its lifespan) on a loop of its own,
where the app's database connections, bound to the test's loop, would not work.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, cast

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, CheckContext, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance

from stellwerk.app import create_app
from stellwerk.config import Settings
from stellwerk.identity.scope import ALL_SCOPES
from stellwerk.runtime import Runtime
from stellwerk.surface import Surface, surface_for_path
from tests.factories import bearer, create_admin, create_api_key, create_token, jwt_for

MAX_EXAMPLES = 8

# Schemathesis draws from `random` inside its strategies; Hypothesis seeds it for every example.
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module")

Operation = APIOperation[Any, Any, Any, Any]

EXCLUDED: set[tuple[str, str]] = {
    # Streams server-sent events until the client leaves.
    ("GET", "/modules/events"),
    # A valid body starts real background work on the shared workers: the engine probe sleeps
    # through its steps, a project provisions at the (unconfigured) providers.
    ("POST", "/api/operations/probe"),
    ("POST", "/api/projects"),
}


def _operations() -> list[Operation]:
    document = create_app(Settings(_env_file=None, workers=False)).openapi()
    operations = []
    for result in schemathesis.openapi.from_dict(document).get_all_operations():
        if not isinstance(result, Ok):
            raise result.err()
        operation = result.ok()
        if (operation.method.upper(), operation.path) not in EXCLUDED:
            operations.append(operation)
    return operations


OPERATIONS = _operations()


def _required_keys(surface: Surface) -> set[str]:
    return {
        Surface.REDIRECT: {"error", "code"},
        Surface.SERVER: {"success", "error", "code", "field"},
        Surface.LICENSE: {"error", "code", "status"},
        Surface.GENERIC: {"error", "code", "detail"},
        Surface.WEB: set(),
    }[surface]


def error_envelope_matches_surface(
    ctx: CheckContext, response: schemathesis.Response, case: Case[Any]
) -> bool | None:
    """A 4xx answers in the envelope of the surface its path belongs to."""
    if not 400 <= response.status_code < 500:
        return None
    surface = surface_for_path(case.formatted_path)
    declared = case.operation.definition.raw["responses"].get(str(response.status_code), {})
    media_types = declared.get("content", {"application/json": {}})
    if surface is Surface.WEB or "application/json" not in media_types:
        return None  # documented as something else (the TLS ask answers Caddy in plain text)
    body = json.loads(response.content)
    assert isinstance(body, dict), f"{response.status_code} body is not an object: {body!r}"
    missing = _required_keys(surface) - body.keys()
    assert not missing, f"{surface.value} error without {sorted(missing)}: {body!r}"
    assert isinstance(body["error"], str), body
    assert isinstance(body["code"], str), body
    if surface is Surface.SERVER:
        assert body["success"] is False, body
    if surface is Surface.LICENSE:
        assert body["status"] == response.status_code, body
    if surface is Surface.GENERIC:
        assert isinstance(body["detail"], str), body
    return None


CHECKS = [not_a_server_error, response_schema_conformance, error_envelope_matches_surface]


async def _credentials(runtime: Runtime) -> tuple[dict[str, str], dict[str, str]]:
    """Headers for the redirect API (`nrx_` token) and for everything else (admin JWT)."""
    admin = await create_admin(runtime)
    api_key = {"X-API-Key": await create_api_key(runtime)}
    token = await create_token(runtime, admin, sorted(ALL_SCOPES))
    return {**bearer(token), **api_key}, {**bearer(jwt_for(runtime, admin)), **api_key}


_ENVELOPE_SCHEMAS = {
    Surface.REDIRECT: "RedirectError",
    Surface.SERVER: "ServerError",
    Surface.LICENSE: "LicenseError",
    Surface.GENERIC: "GenericError",
}


def test_every_operation_documents_its_surface_error_envelope() -> None:
    document = create_app(Settings(_env_file=None, workers=False)).openapi()
    wrong = []
    for path, operations in document["paths"].items():
        expected = f"#/components/schemas/{_ENVELOPE_SCHEMAS[surface_for_path(path)]}"
        for method, operation in operations.items():
            for status in ("422", "4XX"):
                content = operation["responses"].get(status, {}).get("content", {})
                ref = content.get("application/json", {}).get("schema", {}).get("$ref")
                if ref != expected:
                    wrong.append(f"{method.upper()} {path} {status}: {ref}")
    assert not wrong, "\n".join(wrong)


def _cases(operation: Operation) -> st.SearchStrategy[Case[Any]]:
    return st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )


def _fuzz(
    operation: Operation, headers: dict[str, str], send: Callable[[Case[Any], dict[str, str]], Any]
) -> None:
    """Run the examples of one operation (blocking: call it from a worker thread)."""

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_cases(operation))
    def fuzz(case: Case[Any]) -> None:
        case.validate_response(send(case, headers), checks=CHECKS)

    fuzz()


# One test per tag: a PostgreSQL test pays a second or two to empty every table afterwards.
TAGS = sorted({(o.tags or ["untagged"])[0] for o in OPERATIONS})


@pytest.mark.parametrize("tag", TAGS)
async def test_operations_survive_fuzzing(
    tag: str, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    loop = asyncio.get_running_loop()

    async def request(prepared: requests.PreparedRequest) -> httpx.Response:
        return await client.request(
            str(prepared.method),
            str(prepared.url),
            headers={
                key: value.decode("latin-1") if isinstance(value, bytes) else value
                for key, value in prepared.headers.items()
            },
            content=cast(bytes | str | None, prepared.body),
            follow_redirects=False,
        )

    def send(case: Case[Any], headers: dict[str, str]) -> httpx.Response:
        kwargs: dict[str, Any] = case.as_transport_kwargs(
            base_url="http://testserver", headers=headers
        )
        fields = ("method", "url", "headers", "params", "cookies", "json", "data", "files")
        prepared = requests.Request(**{k: kwargs[k] for k in fields if k in kwargs}).prepare()
        return asyncio.run_coroutine_threadsafe(request(prepared), loop).result(timeout=120)

    failures: list[str] = []
    for operation in [o for o in OPERATIONS if (o.tags or ["untagged"])[0] == tag]:
        # Fresh credentials: an earlier operation may have deleted, demoted or rotated them.
        token_headers, login_headers = await _credentials(runtime)
        headers = token_headers if operation.path.startswith("/api/v1/") else login_headers
        try:
            # Hypothesis drives the examples from a worker thread; requests run on this loop.
            await asyncio.to_thread(_fuzz, operation, headers, send)
        except Exception as error:
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)

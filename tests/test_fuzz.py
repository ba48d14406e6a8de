"""Schema fuzzing: every operation of /api/openapi.json, with generated valid and invalid input.

Each operation gets a few deterministic examples (valid and invalid) sent with a credential that
may call it, and a few valid ones with a credential that lacks its scope, on SQLite and on
PostgreSQL. Every answer must be free of server errors, have a status the operation declares,
match the response schema declared for that status, and, for a 4xx, use its surface's error
envelope. Every path of the route table is also sent each method it does not take: the 405's
`Allow` names exactly the methods the route table has for that path.

Schemathesis generates the cases; they are sent through httpx's ASGI transport on the test's
event loop. Schemathesis's own ASGI client runs the app (and its lifespan) on a loop of its own,
where the app's database connections, bound to the test's loop, would not work.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import httpx
import jsonschema
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, CheckContext, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from stellwerk.app import create_app
from stellwerk.config import Settings
from stellwerk.identity.scope import ALL_SCOPES
from stellwerk.module.frontend_router import ModuleNameConvertor
from stellwerk.runtime import Runtime
from stellwerk.surface import Surface, surface_for_path
from tests.factories import bearer, create_admin, create_api_key, create_token, jwt_for
from tests.module.factories import register_repository
from tests.routes import all_routes

MAX_EXAMPLES = 8  # per operation, valid and invalid, with a credential that may call it
NARROW_EXAMPLES = 2  # per operation, valid, with a credential that lacks the scope

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


APP = create_app(Settings(_env_file=None, workers=False))
DOCUMENT = APP.openapi()


def _operations() -> list[Operation]:
    operations = []
    for result in schemathesis.openapi.from_dict(DOCUMENT).get_all_operations():
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


# What the operation declares: its statuses, their media types and schemas.
CONFORMANCE = [status_code_conformance, content_type_conformance, response_schema_conformance]
CHECKS = [not_a_server_error, *CONFORMANCE, error_envelope_matches_surface]


async def _credentials(runtime: Runtime) -> tuple[dict[str, str], dict[str, str]]:
    """Headers for the redirect API (`nrx_` token) and for everything else (admin JWT)."""
    admin = await create_admin(runtime)
    api_key = {"X-API-Key": await create_api_key(runtime)}
    token = await create_token(runtime, admin, sorted(ALL_SCOPES))
    return {**bearer(token), **api_key}, {**bearer(jwt_for(runtime, admin)), **api_key}


async def _narrow_credentials(runtime: Runtime) -> dict[str, str]:
    """An admin's token holding one scope (`read:hits`): nearly every operation answers its
    missing-scope 403, in the envelope of its surface."""
    admin = await create_admin(runtime)
    token = await create_token(runtime, admin, ["read:hits"])
    return {**bearer(token), "X-API-Key": await create_api_key(runtime)}


_ENVELOPE_SCHEMAS = {
    Surface.REDIRECT: "RedirectError",
    Surface.SERVER: "ServerError",
    Surface.LICENSE: "LicenseError",
    Surface.GENERIC: "GenericError",
}


def test_every_operation_documents_its_surface_error_envelope() -> None:
    wrong = []
    for path, operations in DOCUMENT["paths"].items():
        expected = f"#/components/schemas/{_ENVELOPE_SCHEMAS[surface_for_path(path)]}"
        for method, operation in operations.items():
            responses = operation["responses"]
            for status in ("422", "4XX", "503"):
                if status == "503" and path == "/health":
                    continue  # the health check's own answer, declared on its own
                content = responses.get(status, {}).get("content", {})
                ref = content.get("application/json", {}).get("schema", {}).get("$ref")
                if ref != expected:
                    wrong.append(f"{method.upper()} {path} {status}: {ref}")
    assert "503" in DOCUMENT["paths"]["/health"]["get"]["responses"]
    assert not wrong, "\n".join(wrong)


def _cases(operation: Operation, *, invalid: bool) -> st.SearchStrategy[Case[Any]]:
    valid = operation.as_strategy(GenerationMode.POSITIVE)
    if not invalid:
        return valid
    return st.one_of(valid, operation.as_strategy(GenerationMode.NEGATIVE))


def _fuzz(
    operation: Operation,
    headers: dict[str, str],
    send: Callable[[Case[Any], dict[str, str]], Any],
    *,
    examples: int = MAX_EXAMPLES,
    invalid: bool = True,
) -> None:
    """Run the examples of one operation (blocking: call it from a worker thread)."""

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_cases(operation, invalid=invalid))
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
        narrow = await _narrow_credentials(runtime)
        try:
            # Hypothesis drives the examples from a worker thread; requests run on this loop.
            await asyncio.to_thread(_fuzz, operation, headers, send)
            await asyncio.to_thread(
                _fuzz, operation, narrow, send, examples=NARROW_EXAMPLES, invalid=False
            )
        except Exception as error:
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)


# --- 405: `Allow` against the route table --------------------------------------------------

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_PARAMETER = re.compile(r"\{(\w+)(?::(\w+))?\}")
# Module frontends' first segment: a module name that is not one of Stellwerk's own.
_CONVERTOR_PATTERNS = {"int": "[0-9]+", "path": ".*", "module": ModuleNameConvertor.regex}


def _template_pattern(path: str) -> re.Pattern[str]:
    """A route's path template as a regular expression (what each convertor accepts)."""
    parts: list[str] = []
    end = 0
    for found in _PARAMETER.finditer(path):
        parts.append(re.escape(path[end : found.start()]))
        parts.append(_CONVERTOR_PATTERNS.get(found.group(2) or "", "[^/]+"))
        end = found.end()
    parts.append(re.escape(path[end:]))
    return re.compile("".join(parts) + "$")


def _route_table() -> dict[str, set[str]]:
    """Every route path of the app (API and pages) with its methods."""
    table: dict[str, set[str]] = {}
    for route in all_routes(APP):
        table.setdefault(route.path, set()).add(route.method)
    return table


ROUTE_TABLE = _route_table()


def _envelope_schema(path: str) -> dict[str, Any] | None:
    surface = surface_for_path(path)
    if surface is Surface.WEB:
        return None
    ref = f"#/components/schemas/{_ENVELOPE_SCHEMAS[surface]}"
    return {"$ref": ref, "components": DOCUMENT["components"]}


async def test_method_not_allowed_names_every_method_of_the_path(
    client: httpx.AsyncClient,
) -> None:
    """Each path of the route table (its parameters filled in) with every method: a method the
    table has for that path never answers 405, and each 405 names in `Allow` exactly the
    methods of every route matching the path, in the surface's error envelope."""
    concrete = sorted({_PARAMETER.sub("1", template) for template in ROUTE_TABLE})
    patterns = [(_template_pattern(t), methods) for t, methods in ROUTE_TABLE.items()]
    mismatches: list[str] = []
    for path in concrete:
        expected = set().union(*(m for pattern, m in patterns if pattern.match(path)))
        for method in METHODS:
            # No credentials: routing decides before anything is authenticated or changed.
            response = await client.request(method, path)
            if response.status_code != 405:
                if method not in expected:
                    mismatches.append(f"{method} {path}: {response.status_code}, not 405")
                continue
            allow = {m.strip() for m in response.headers.get("allow", "").split(",") if m}
            if method in expected or allow != expected:
                mismatches.append(
                    f"{method} {path}: Allow {sorted(allow)}, the routes {sorted(expected)}"
                )
            schema = _envelope_schema(path)
            if schema is not None and method != "HEAD":  # a HEAD answer has no body
                try:
                    jsonschema.validate(response.json(), schema)
                except jsonschema.ValidationError as error:
                    mismatches.append(f"{method} {path}: {error.message}")
    assert not mismatches, "\n".join(mismatches)


# --- Statuses the fuzzing rarely reaches --------------------------------------------------


def _operation(method: str, path: str) -> Operation:
    found = [o for o in OPERATIONS if (o.method.upper(), o.path) == (method, path)]
    assert found, f"{method} {path} is not in the OpenAPI document"
    return found[0]


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/repository/install"), ("POST", "/modules/install-instance")]
)
async def test_an_unreachable_repository_is_a_declared_503(
    method: str, path: str, client: httpx.AsyncClient, runtime: Runtime, tmp_path: Path
) -> None:
    await register_repository(runtime, "gone", str(tmp_path / "gone"))
    _, login_headers = await _credentials(runtime)
    operation = _operation(method, path)
    body = {"module_name": "anything", "repository_id": "gone"}
    response = await client.request(method, path, json=body, headers=login_headers)
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "repository_unavailable"
    case = operation.Case(body=body, media_type="application/json")
    case.validate_response(response, checks=[*CONFORMANCE, error_envelope_matches_surface])

"""CORS: off by default; `STELLWERK_CORS_ORIGINS` opens the API surfaces (not the web UI's pages)
to those origins, with credentials and cached preflights."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from pydantic import ValidationError

from stellwerk.app import create_app
from stellwerk.config import Settings
from stellwerk.runtime import Runtime
from tests.factories import admin_headers

ALLOWED = "https://app.example.com"


@pytest_asyncio.fixture
async def cors_client(settings: Settings, runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    """The app as configured with two allowed origins, on the running app's runtime (its own
    lifespan would start a second workflow engine)."""
    configured = settings.model_copy(
        update={"cors_origins": f"{ALLOWED}, http://localhost:5173", "workers": False}
    )
    app = create_app(configured)
    app.state.runtime = runtime
    app.state.database = runtime.database
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def _preflight(origin: str, headers: str = "authorization, content-type") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": headers,
    }


async def test_preflights_from_allowed_origins_are_answered_and_cached(
    cors_client: httpx.AsyncClient,
) -> None:
    for path in ("/api/operations", "/modules/update", "/repository/list", "/api/v1/domains"):
        answer = await cors_client.options(path, headers=_preflight(ALLOWED))
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["access-control-allow-origin"] == ALLOWED
        assert answer.headers["access-control-allow-credentials"] == "true"
        assert answer.headers["access-control-max-age"] == "3600"
        allowed = answer.headers["access-control-allow-headers"].lower()
        for header in ("authorization", "content-type", "idempotency-key", "x-csrf-token"):
            assert header in allowed
        assert "DELETE" in answer.headers["access-control-allow-methods"]
    local = await cors_client.options(
        "/api/operations", headers=_preflight("http://localhost:5173")
    )
    assert local.headers["access-control-allow-origin"] == "http://localhost:5173"


async def test_other_origins_and_pages_get_no_cors(cors_client: httpx.AsyncClient) -> None:
    refused = await cors_client.options(
        "/api/operations", headers=_preflight("https://evil.example")
    )
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    unknown_header = await cors_client.options(
        "/api/operations", headers=_preflight(ALLOWED, "x-something-else")
    )
    assert unknown_header.status_code == 400
    page = await cors_client.options("/ui/modules", headers=_preflight(ALLOWED))
    assert "access-control-allow-origin" not in page.headers
    assert page.status_code == 405


async def test_answers_carry_cors_headers_with_credentials(
    cors_client: httpx.AsyncClient, runtime: Runtime
) -> None:
    headers = await admin_headers(runtime)
    answer = await cors_client.get("/api/operations", headers={**headers, "Origin": ALLOWED})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == ALLOWED
    assert answer.headers["access-control-allow-credentials"] == "true"
    assert "x-request-id" in answer.headers["access-control-expose-headers"].lower()
    assert "origin" in answer.headers["vary"].lower()
    refused = await cors_client.get("/api/operations", headers={"Origin": ALLOWED})
    assert refused.status_code == 401  # readable by the page: it can send the user to log in
    assert refused.headers["access-control-allow-origin"] == ALLOWED
    elsewhere = await cors_client.get("/api/operations", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in elsewhere.headers


async def test_cors_is_off_by_default(client: httpx.AsyncClient) -> None:
    preflight = await client.options("/api/operations", headers=_preflight(ALLOWED))
    assert preflight.status_code == 405
    assert "access-control-allow-origin" not in preflight.headers


@pytest.mark.parametrize(
    "value", ["*", "https://app.example.com/path", "app.example.com", "ftp://x.example"]
)
def test_origins_must_be_origins(value: str) -> None:
    with pytest.raises(ValidationError, match="is not an origin"):
        Settings(_env_file=None, cors_origins=value)  # type: ignore[call-arg]


def test_origins_are_read_as_browsers_send_them() -> None:
    settings = Settings(_env_file=None, cors_origins="https://A.example.com/ , http://[::1]:8080")  # type: ignore[call-arg]
    assert settings.cors_origin_list == ["https://a.example.com", "http://[::1]:8080"]

"""`/api/v1/version` against a release feed served on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from stellwerk import __version__
from stellwerk.redirect import version
from stellwerk.runtime import Runtime
from tests.loopback import json_answer, loopback_server


class Feed:
    def __init__(self) -> None:
        self.payload: object = {}
        self.requests = 0


@pytest.fixture
def feed(runtime: Runtime) -> Iterator[Feed]:
    state = Feed()

    def answer(path: str) -> tuple[int, dict[str, str], bytes]:
        state.requests += 1
        return json_answer(state.payload)

    settings = runtime.settings
    before = (settings.release_feed_url, settings.auto_update)
    with loopback_server(answer) as url:
        settings.release_feed_url = f"{url}/releases/latest"
        version.clear_cache()
        yield state
    settings.release_feed_url, settings.auto_update = before
    version.clear_cache()


async def test_newer_release_is_reported_and_cached(
    client: httpx.AsyncClient, runtime: Runtime, feed: Feed
) -> None:
    feed.payload = {"tag_name": "v99.0.1", "html_url": "https://releases.example/v99.0.1"}
    runtime.settings.auto_update = True
    body = (await client.get("/api/v1/version")).json()
    assert body == {
        "current": __version__,
        "latest": "99.0.1",
        "update_available": True,
        "release_url": "https://releases.example/v99.0.1",
        "auto_update": True,
    }
    feed.payload = {"tag_name": "v100.0.0"}
    assert (await client.get("/api/v1/version")).json()["latest"] == "99.0.1"
    assert feed.requests == 1


async def test_same_or_older_release_is_no_update(client: httpx.AsyncClient, feed: Feed) -> None:
    feed.payload = [{"tag_name": "v0.0.1"}, {"tag_name": "v0.0.9", "prerelease": False}]
    body = (await client.get("/api/v1/version")).json()
    assert body["latest"] == __version__
    assert body["update_available"] is False


async def test_offline_feed_means_latest_is_current(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    runtime.settings.release_feed_url = "http://127.0.0.1:9/unreachable"
    version.clear_cache()
    try:
        body = (await client.get("/api/v1/version")).json()
    finally:
        runtime.settings.release_feed_url = None
        version.clear_cache()
    assert body["latest"] == __version__
    assert body["update_available"] is False
    assert body["release_url"] is None

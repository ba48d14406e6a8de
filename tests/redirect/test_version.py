"""`/api/v1/version` against a release feed served on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from stellwerk import __version__
from stellwerk.redirect import version
from stellwerk.runtime import Runtime


class Feed:
    def __init__(self) -> None:
        self.payload: object = {}
        self.requests = 0


@pytest.fixture
def feed(runtime: Runtime) -> Iterator[Feed]:
    state = Feed()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            body = json.dumps(state.payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings = runtime.settings
    before = (settings.release_feed_url, settings.auto_update)
    settings.release_feed_url = f"http://127.0.0.1:{server.server_address[1]}/releases/latest"
    version.clear_cache()
    yield state
    server.shutdown()
    server.server_close()
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

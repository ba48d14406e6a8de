"""A taken port is named with the setting that chooses it, before anything starts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from stellwerk.config import Settings
from stellwerk.kit.ports import PortInUse, ensure_free
from stellwerk.provider.sandbox import listener
from stellwerk.serve import ensure_ports_free


def _listening() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, **values)  # type: ignore[call-arg]


def test_a_taken_port_names_itself_and_its_setting() -> None:
    with _listening() as taken:
        port = taken.getsockname()[1]
        with pytest.raises(PortInUse) as raised:
            ensure_free("127.0.0.1", port, "STELLWERK_PORT")
    assert raised.value.message == (
        f"port {port} (STELLWERK_PORT) is already in use on 127.0.0.1; "
        "stop what listens there or set STELLWERK_PORT to a free port"
    )
    ensure_free("127.0.0.1", port, "STELLWERK_PORT")  # free again
    ensure_free("127.0.0.1", 0, "STELLWERK_PORT")  # any free port


def test_serve_checks_the_api_data_plane_and_sandbox_ports(tmp_path: Path) -> None:
    with _listening() as api, _listening() as plane, _listening() as sandbox:
        free = _settings(tmp_path, port=0, redirect_port=0, sandbox=True, redirect_workers=1)
        ensure_ports_free(free)  # sandboxes on free ports by default: nothing fixed to check
        assert free.sandbox_port == 0
        assert listener.ports(free) == []
        cases = {
            "STELLWERK_PORT": {"port": api.getsockname()[1]},
            "STELLWERK_REDIRECT_PORT": {"redirect_port": plane.getsockname()[1]},
            # INWX's sandbox listens on the base port + 1.
            "STELLWERK_SANDBOX_PORT": {"sandbox_port": sandbox.getsockname()[1] - 1},
        }
        for setting, values in cases.items():
            with pytest.raises(PortInUse) as raised:
                ensure_ports_free(free.model_copy(update=values))
            assert raised.value.setting == setting
        # A data plane that does not run does not need its port.
        no_plane = free.model_copy(update={"redirect_port": plane.getsockname()[1]})
        ensure_ports_free(no_plane.model_copy(update={"redirect_workers": 0}))


async def test_sandboxes_on_a_taken_port_leave_none_running(tmp_path: Path) -> None:
    with _listening() as taken:
        # The third sandbox's port is taken: the two started before it stop again.
        settings = _settings(tmp_path, sandbox=True, sandbox_port=taken.getsockname()[1] - 3)
        with pytest.raises(PortInUse, match="STELLWERK_SANDBOX_PORT"):
            await listener.start_all(settings, persist=False)
        for port in listener.ports(settings)[:2]:
            ensure_free("127.0.0.1", port, "STELLWERK_SANDBOX_PORT")


async def test_serve_publishes_its_sandboxes_for_commands_beside_it(tmp_path: Path) -> None:
    from stellwerk.provider import connect

    settings = _settings(tmp_path, sandbox=True)
    urls: dict[str, object] = {}
    async with listener.sandbox_listener(settings, urls):
        published = listener.published_urls(settings)
        assert published == urls["sandboxes"]
        assert set(published) == {"inwx", "coolify", "hetzner", "linode", "digitalocean"}
        # A command in another process (nothing running there) finds them through the file.
        listener.RUNNING_URLS.clear()
        assert connect.sandbox_url(settings, "inwx") == published["inwx"]
    assert listener.published_urls(settings) == {}

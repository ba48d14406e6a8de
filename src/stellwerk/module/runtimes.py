"""Where module instances run: Docker Swarm services, plain Docker containers, or local processes.

All three answer the same `ModuleRuntime` protocol, keyed by a unit name
`{stack}_{module_name}_{instance_id}`. `start` and `stop` are idempotent, so a workflow step that
runs again after a crash does no harm. The Docker SDK is synchronous: its calls run in threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from stellwerk.config import Settings
from stellwerk.exceptions import ServiceUnavailable, ValidationFailed
from stellwerk.module import isolation
from stellwerk.module.files import ModuleFiles
from stellwerk.module.manifest import Manifest

# running: up; starting: on its way; stopped: exited cleanly or absent; error: failed.
RUNNING, STARTING, STOPPED, ERROR, MISSING = "running", "starting", "stopped", "error", "missing"
SWARM_NAME_LIMIT = 63  # service names are DNS labels
START_TIMEOUT_SECONDS = 60.0
UNIT_MARKER = "STELLWERK_MODULE_UNIT"
# Containers run as nobody unless the manifest names a user (`run.user`).
CONTAINER_USER = "65534:65534"


class RuntimeUnavailable(ServiceUnavailable):
    default_code = "runtime_unavailable"


class ModuleStartFailed(ServiceUnavailable):
    default_code = "module_start_failed"


def unit_name(stack: str, module_name: str, instance_id: str, *, candidate: bool = False) -> str:
    """The documented service name; an update's candidate replaces the id's tail with `-next`."""
    suffix = f"{instance_id[:27]}-next" if candidate else instance_id
    return f"{stack}_{module_name}_{suffix}"


@dataclass(frozen=True)
class UnitSpec:
    unit_name: str
    module_name: str
    instance_id: str
    version: str
    path: Path
    manifest: Manifest

    def environment(self, mount_path: str) -> dict[str, str]:
        return {
            **self.manifest.run.env,
            "MODULE_NAME": self.module_name,
            "MODULE_INSTANCE_ID": self.instance_id,
            "MODULE_VERSION": self.version,
            "MODULE_PATH": mount_path,
            UNIT_MARKER: self.unit_name,
        }


class ModuleRuntime(Protocol):
    name: str

    def check(self, unit: str, manifest: Manifest) -> None:
        """Raise `ValidationFailed` if this runtime cannot run the module at all."""

    async def start(self, spec: UnitSpec) -> dict[str, Any]:
        """Start the unit unless it already runs; returns details worth keeping."""

    async def stop(self, unit: str) -> None:
        """Stop and remove the unit; nothing happens if it does not exist."""

    async def statuses(self, units: list[str]) -> dict[str, str]:
        """The current status of each unit."""

    async def units(self) -> list[str]:
        """Every unit this runtime holds for Stellwerk, running or not (for reconciliation)."""

    async def run_health_command(self, spec: UnitSpec) -> bool:
        """Run the manifest's health command, if any; True when it passes."""

    async def address(self, unit: str, manifest: Manifest) -> str | None:
        """`host:port` where the unit's HTTP frontend answers, or None while it is not running
        (or has no port)."""

    async def logs(self, unit: str, *, lines: int, after: str | None = None) -> LogChunk:
        """The unit's output: its last `lines` lines, or what came after `after` (the cursor
        an earlier call returned), with the cursor to ask with next time."""


# The most a single log read returns, lines and bytes.
MAX_LOG_LINES = 5000
MAX_LOG_BYTES = 1024 * 1024


@dataclass(frozen=True)
class LogChunk:
    lines: list[str]
    cursor: str


def _tail_file(path: Path, lines: int, after: str | None) -> LogChunk:
    """Complete lines of `path`: the last `lines`, or those after byte offset `after` (from the
    start again when the file became shorter: it was truncated or replaced)."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return LogChunk([], "0")
    with handle:
        size = handle.seek(0, 2)
        offset = int(after) if after is not None and after.isdecimal() else None
        if offset is not None and offset <= size:
            start = offset
            end = min(size, offset + MAX_LOG_BYTES)
        else:
            end = size
            start = max(0, size - MAX_LOG_BYTES) if offset is None else 0
            end = min(size, start + MAX_LOG_BYTES) if offset is not None else end
        handle.seek(start)
        data = handle.read(end - start)
    complete = data[: data.rfind(b"\n") + 1]  # a line still being written waits
    if not complete and end - start >= MAX_LOG_BYTES:
        complete = data  # one line longer than a read: give it as it is
    text = complete.decode("utf-8", errors="replace").splitlines()
    if offset is None:
        if start > 0 and text:
            text = text[1:]  # the first line read may have started before the window
        text = text[-lines:]
    return LogChunk(text[:MAX_LOG_LINES], str(start + len(complete)))


def _docker_lines(raw: bytes | Any, after: str | None) -> LogChunk:
    """`docker logs --timestamps` output: lines `RFC3339Nano text`; the cursor is the last
    timestamp seen, and lines at or before `after` are left out."""
    if not isinstance(raw, bytes):
        raw = b"".join(raw)
    kept: list[str] = []
    cursor = after or ""
    for line in raw.decode("utf-8", errors="replace").splitlines():
        stamp, _, text = line.partition(" ")
        if after is not None and stamp <= after:
            continue
        kept.append(text)
        cursor = max(cursor, stamp)
    return LogChunk(kept[-MAX_LOG_LINES:], cursor)


def _since(cursor: str | None) -> dt.datetime | None:
    if not cursor:
        return None
    try:
        return dt.datetime.fromisoformat(cursor[:26].rstrip("Z")).replace(tzinfo=dt.UTC)
    except ValueError:
        return None


async def wait_healthy(runtime: ModuleRuntime, spec: UnitSpec) -> tuple[bool, str]:
    """Healthy: running, still running after the grace period, and the health command passes."""
    health = spec.manifest.health
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    status = STARTING
    for _ in range(int(START_TIMEOUT_SECONDS / 0.25) + 1):
        status = (await runtime.statuses([spec.unit_name]))[spec.unit_name]
        if status == RUNNING or status in (ERROR, STOPPED, MISSING) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.25)
    if status != RUNNING:
        return False, f"the module did not start ({status})"
    await asyncio.sleep(health.grace_seconds)
    status = (await runtime.statuses([spec.unit_name]))[spec.unit_name]
    if status != RUNNING:
        return False, f"the module stopped within {health.grace_seconds:g}s ({status})"
    if health.command and not await runtime.run_health_command(spec):
        return False, "the health command failed"
    return True, "healthy"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ProcessRuntime:
    """Modules as local processes (the manifest's `run.command`), for machines without Docker.

    Each process gets its own session (so it outlives a restart of Stellwerk), a free loopback
    port in `PORT`, and a pid file; the unit's name in its environment guards against pid reuse.
    When Stellwerk runs as root, processes (and health commands) run as the module user, in a
    directory that user owns, outside the data directory (`isolation`). The environment is an
    allow-list: nothing of Stellwerk's own is passed on.
    """

    name = "process"
    _children: dict[str, subprocess.Popen[bytes]] = {}

    def __init__(self, files: ModuleFiles, settings: Settings) -> None:
        self.files = files
        self.settings = settings

    def check(self, unit: str, manifest: Manifest) -> None:
        if not manifest.run.command:
            raise ValidationFailed(
                f"Module {manifest.name} names no run.command for the process runtime",
                code="unsupported_runtime",
            )

    def _read(self, unit: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads(self.files.run_file(unit).read_text())
            return data
        except (OSError, ValueError):
            return None

    def _alive(self, unit: str, pid: int) -> bool:
        child = self._children.get(unit)
        if child is not None and child.pid == pid:
            return child.poll() is None
        proc = Path(f"/proc/{pid}")
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            environ = (proc / "environ").read_bytes()
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X") and f"{UNIT_MARKER}={unit}".encode() in environ

    def _status(self, unit: str) -> str:
        state = self._read(unit)
        if state is None:
            return MISSING
        if self._alive(unit, int(state["pid"])):
            return RUNNING
        child = self._children.get(unit)
        if child is not None and child.returncode not in (None, 0, -signal.SIGTERM):
            return ERROR
        return STOPPED

    def _command(self, spec: UnitSpec, port: int, python: str) -> list[str]:
        values = {"{python}": python, "{port}": str(port), "{module_path}": str(spec.path)}
        command = []
        for part in spec.manifest.run.command or []:
            for placeholder, value in values.items():
                part = part.replace(placeholder, value)
            command.append(part)
        if command and command[0].startswith("./"):
            command[0] = str(spec.path / command[0][2:])
        return command

    def _isolated(self, spec: UnitSpec) -> isolation.ModuleUser | None:
        """The module user, with `spec.path` handed to it (None: Stellwerk is not root)."""
        user = isolation.module_user(self.settings)
        if user is not None:
            isolation.prepare(self.files.root, self.settings.data_dir, spec.path, user)
        return user

    def _start(self, spec: UnitSpec) -> dict[str, Any]:
        if self._status(spec.unit_name) == RUNNING:
            return self._read(spec.unit_name) or {}
        port = _free_port()
        self.files.ensure()
        user = self._isolated(spec)
        env = isolation.environment(
            {**spec.environment(str(spec.path)), "PORT": str(port)}, user, spec.path
        )
        options = user.popen_options() if user is not None else {}
        command = self._command(spec, port, isolation.python_for(user))
        with self.files.log_file(spec.unit_name).open("ab") as log:
            try:
                # The module's own command, from its verified archive: running it is the point.
                child = subprocess.Popen(  # noqa: S603
                    command,
                    cwd=spec.path,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    **options,
                )
            except (OSError, subprocess.SubprocessError) as error:
                raise ModuleStartFailed(f"Cannot start {spec.module_name}: {error}") from error
        self._children[spec.unit_name] = child
        state = {
            "pid": child.pid,
            "port": port,
            "version": spec.version,
            "started_at": dt.datetime.now(dt.UTC).isoformat(),
        }
        run_file = self.files.run_file(spec.unit_name)
        temporary = run_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(state))
        os.replace(temporary, run_file)
        return state

    def _stop(self, unit: str) -> None:
        state = self._read(unit)
        if state is not None and self._alive(unit, int(state["pid"])):
            pid = int(state["pid"])
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
            for _ in range(50):
                if not self._alive(unit, pid):
                    break
                time.sleep(0.1)
            else:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        child = self._children.pop(unit, None)
        if child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=5)
        with contextlib.suppress(FileNotFoundError):
            self.files.run_file(unit).unlink()

    async def start(self, spec: UnitSpec) -> dict[str, Any]:
        return await asyncio.to_thread(self._start, spec)

    async def stop(self, unit: str) -> None:
        await asyncio.to_thread(self._stop, unit)

    async def statuses(self, units: list[str]) -> dict[str, str]:
        return {unit: self._status(unit) for unit in units}

    async def address(self, unit: str, manifest: Manifest) -> str | None:
        state = self._read(unit)
        if state is None or self._status(unit) != RUNNING or not state.get("port"):
            return None
        return f"127.0.0.1:{int(state['port'])}"

    async def logs(self, unit: str, *, lines: int, after: str | None = None) -> LogChunk:
        return await asyncio.to_thread(_tail_file, self.files.log_file(unit), lines, after)

    async def units(self) -> list[str]:
        run_dir = self.files.root / ".run"
        files = await asyncio.to_thread(lambda: list(run_dir.glob("*.json")))
        return sorted(path.stem for path in files)

    async def run_health_command(self, spec: UnitSpec) -> bool:
        command = spec.manifest.health.command
        if not command:
            return True
        state = self._read(spec.unit_name) or {}
        try:
            user = await asyncio.to_thread(self._isolated, spec)
            python = isolation.python_for(user)
        except isolation.ModuleIsolationFailed:
            return False
        port = str(state.get("port", ""))
        env = isolation.environment(
            {**spec.environment(str(spec.path)), "PORT": port}, user, spec.path
        )
        argv = [part.replace("{port}", port).replace("{python}", python) for part in command]
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=spec.path,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                **(user.popen_options() if user is not None else {}),
            )
        except (OSError, subprocess.SubprocessError):
            return False
        try:
            return (
                await asyncio.wait_for(process.wait(), timeout=spec.manifest.health.timeout_seconds)
                == 0
            )
        except TimeoutError:
            process.kill()
            await process.wait()
            return False


_docker_clients: dict[str, Any] = {}


class _DockerRuntime:
    """What the container and Swarm runtimes share: the client, labels, the network."""

    name = "docker"
    network_driver = "bridge"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.mount_target = settings.module_mount_target
        self.network = settings.module_network or f"{settings.module_stack_name}_modules"
        self._client: Any = None

    def client(self) -> Any:
        host = self.settings.module_docker_host or ""
        if self._client is None:
            self._client = _docker_clients.get(host)
        if self._client is None:
            import docker

            try:
                if host:
                    self._client = docker.DockerClient(base_url=host, timeout=60)
                else:
                    self._client = docker.from_env(timeout=60)
            except Exception as error:
                raise RuntimeUnavailable(f"Docker is not reachable: {error}") from error
            # One client (and connection pool) per engine for the life of the process.
            _docker_clients[host] = self._client
        return self._client

    async def call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        import docker.errors

        try:
            return await asyncio.to_thread(function, *args, **kwargs)
        except docker.errors.APIError as error:
            detail = error.explanation or str(error)
            raise ModuleStartFailed(f"Docker refused the request: {detail}") from error
        except docker.errors.DockerException as error:
            raise RuntimeUnavailable(f"Docker is not reachable: {error}") from error

    def check(self, unit: str, manifest: Manifest) -> None:
        if not manifest.run.image:
            raise ValidationFailed(
                f"Module {manifest.name} names no run.image for the {self.name} runtime",
                code="unsupported_runtime",
            )

    def mount_source(self, spec: UnitSpec) -> str:
        """The instance directory, which is all of the host a container sees (read-only)."""
        data_dir = self.settings.data_dir.resolve()
        path = spec.path.resolve()
        if path == data_dir or data_dir in path.parents or path in data_dir.parents:
            raise ModuleStartFailed(
                f"{path} would expose the data directory {data_dir} to a container; "
                "set STELLWERK_MODULES_DIR to a directory outside it"
            )
        return str(path)

    @staticmethod
    def user(spec: UnitSpec) -> str:
        return spec.manifest.run.user or CONTAINER_USER

    @staticmethod
    def labels(spec: UnitSpec) -> dict[str, str]:
        return {
            "stellwerk.module": spec.module_name,
            "stellwerk.instance": spec.instance_id,
            "stellwerk.unit": spec.unit_name,
            "stellwerk.version": spec.version,
        }

    def _ensure_network(self) -> None:
        import docker.errors

        if self.network in ("none", "host", "bridge"):
            return
        client = self.client()
        if client.networks.list(names=[self.network]):
            return
        with contextlib.suppress(docker.errors.APIError):  # created concurrently
            options: dict[str, Any] = {"driver": self.network_driver}
            if self.network_driver == "overlay":
                options["attachable"] = True
                options["scope"] = "swarm"
            client.networks.create(self.network, labels={"stellwerk": "modules"}, **options)

    async def run_health_command(self, spec: UnitSpec) -> bool:
        return True  # containers carry their own HEALTHCHECK; running is what is checked


class ContainerRuntime(_DockerRuntime):
    """Modules as plain containers on a Docker engine without Swarm."""

    name = "container"

    def _start(self, spec: UnitSpec) -> dict[str, Any]:
        import docker.errors

        client = self.client()
        try:
            existing = client.containers.get(spec.unit_name)
            if existing.status == "running":
                return {"container_id": existing.id}
            existing.remove(force=True)
        except docker.errors.NotFound:
            pass
        self._ensure_network()
        container = client.containers.run(
            spec.manifest.run.image,
            command=spec.manifest.run.container_command,
            name=spec.unit_name,
            detach=True,
            labels=self.labels(spec),
            environment=spec.environment(self.mount_target),
            volumes={self.mount_source(spec): {"bind": self.mount_target, "mode": "ro"}},
            network=self.network,
            restart_policy={"Name": "unless-stopped"},
            user=self.user(spec),
            security_opt=["no-new-privileges"],
        )
        return {"container_id": container.id}

    def _stop(self, unit: str) -> None:
        import docker.errors

        with contextlib.suppress(docker.errors.NotFound):
            self.client().containers.get(unit).remove(force=True)

    def _statuses(self, units: list[str]) -> dict[str, str]:
        found = {}
        # ignore_removed: a container removed between listing and inspecting is simply gone.
        for container in self.client().containers.list(
            all=True, filters={"label": "stellwerk.unit"}, ignore_removed=True
        ):
            state = container.attrs.get("State", {})
            status = container.status
            if status == "running":
                found[container.name] = RUNNING
            elif status in ("created", "restarting"):
                found[container.name] = STARTING
            elif status == "exited" and state.get("ExitCode", 0) != 0:
                found[container.name] = ERROR
            else:
                found[container.name] = STOPPED
        return {unit: found.get(unit, MISSING) for unit in units}

    async def start(self, spec: UnitSpec) -> dict[str, Any]:
        result: dict[str, Any] = await self.call(self._start, spec)
        return result

    async def stop(self, unit: str) -> None:
        await self.call(self._stop, unit)

    async def statuses(self, units: list[str]) -> dict[str, str]:
        result: dict[str, str] = await self.call(self._statuses, units)
        return result

    def _address(self, unit: str, manifest: Manifest) -> str | None:
        import docker.errors

        if manifest.run.port is None:
            return None
        try:
            container = self.client().containers.get(unit)
        except docker.errors.NotFound:
            return None
        if container.status != "running":
            return None
        networks = container.attrs.get("NetworkSettings", {}).get("Networks", {}) or {}
        chosen: dict[str, Any] = networks.get(self.network) or next(iter(networks.values()), {})
        ip = str(chosen.get("IPAddress") or "")
        return f"{ip}:{manifest.run.port}" if ip else None

    async def address(self, unit: str, manifest: Manifest) -> str | None:
        result: str | None = await self.call(self._address, unit, manifest)
        return result

    def _logs(self, unit: str, lines: int, after: str | None) -> LogChunk:
        import docker.errors

        try:
            container = self.client().containers.get(unit)
        except docker.errors.NotFound:
            return LogChunk([], after or "")
        since = _since(after)
        options: dict[str, Any] = {"timestamps": True, "stdout": True, "stderr": True}
        options.update({"since": since} if since is not None else {"tail": lines})
        return _docker_lines(container.logs(**options), after)

    async def logs(self, unit: str, *, lines: int, after: str | None = None) -> LogChunk:
        result: LogChunk = await self.call(self._logs, unit, lines, after)
        return result

    def _units(self) -> list[str]:
        listed = self.client().api.containers(all=True, filters={"label": "stellwerk.unit"})
        return sorted(str(c.get("Labels", {}).get("stellwerk.unit", "")) for c in listed)

    async def units(self) -> list[str]:
        result: list[str] = await self.call(self._units)
        return result


_TASK_STATES = {
    "running": RUNNING,
    "new": STARTING,
    "allocated": STARTING,
    "pending": STARTING,
    "assigned": STARTING,
    "accepted": STARTING,
    "preparing": STARTING,
    "ready": STARTING,
    "starting": STARTING,
    "complete": STOPPED,
    "shutdown": STOPPED,
    "failed": ERROR,
    "rejected": ERROR,
    "orphaned": ERROR,
    "remove": STOPPED,
}


class SwarmRuntime(_DockerRuntime):
    """Modules as Swarm services `{stack}_{module_name}_{instance_id}` on the stack network."""

    name = "swarm"
    network_driver = "overlay"

    def check(self, unit: str, manifest: Manifest) -> None:
        super().check(unit, manifest)
        if len(unit) > SWARM_NAME_LIMIT:
            raise ValidationFailed(
                f"The service name {unit} is longer than {SWARM_NAME_LIMIT} characters; "
                "use a shorter module or stack name",
                field="module_name",
                code="name_too_long",
            )

    def _start(self, spec: UnitSpec) -> dict[str, Any]:
        import docker.errors
        from docker.types import Mount, RestartPolicy

        client = self.client()
        try:
            existing = client.services.get(spec.unit_name)
            return {"service_id": existing.id}
        except docker.errors.NotFound:
            pass
        self._ensure_network()
        service = client.services.create(
            spec.manifest.run.image,
            command=spec.manifest.run.container_command,
            name=spec.unit_name,
            labels=self.labels(spec),
            container_labels=self.labels(spec),
            env=[f"{k}={v}" for k, v in spec.environment(self.mount_target).items()],
            user=self.user(spec),
            mounts=[
                Mount(
                    target=self.mount_target,
                    source=self.mount_source(spec),
                    type="bind",
                    read_only=True,
                )
            ],
            networks=[] if self.network in ("none", "host", "bridge") else [self.network],
            restart_policy=RestartPolicy(
                condition="on-failure", delay=1_000_000_000, max_attempts=3
            ),
        )
        return {"service_id": service.id}

    def _stop(self, unit: str) -> None:
        import docker.errors

        client = self.client()
        try:
            client.services.get(unit).remove()
        except docker.errors.NotFound:
            return
        # Wait (bounded) for the service's containers to go, so its files can be removed.
        for _ in range(100):
            # sparse: one listing call, no inspect of containers Swarm is removing meanwhile.
            left = client.containers.list(
                all=True, filters={"label": f"stellwerk.unit={unit}"}, sparse=True
            )
            if not left:
                return
            time.sleep(0.2)

    def _statuses(self, units: list[str]) -> dict[str, str]:
        client = self.client()
        services = {s.name: s.id for s in client.services.list(filters={"label": "stellwerk.unit"})}
        # Per service, the newest task that should be running (else the newest task at all).
        best: dict[str, tuple[tuple[bool, str], str]] = {}
        for task in client.api.tasks():
            service_id = str(task.get("ServiceID", ""))
            rank = (task.get("DesiredState") == "running", str(task.get("CreatedAt", "")))
            state = str(task.get("Status", {}).get("State", ""))
            if service_id not in best or rank > best[service_id][0]:
                best[service_id] = (rank, state)
        found: dict[str, str] = {}
        for unit in units:
            known = services.get(unit)
            if known is None:
                found[unit] = MISSING
                continue
            state = best[known][1] if known in best else "pending"
            found[unit] = _TASK_STATES.get(state, STARTING)
        return found

    async def start(self, spec: UnitSpec) -> dict[str, Any]:
        result: dict[str, Any] = await self.call(self._start, spec)
        return result

    async def stop(self, unit: str) -> None:
        await self.call(self._stop, unit)

    async def statuses(self, units: list[str]) -> dict[str, str]:
        result: dict[str, str] = await self.call(self._statuses, units)
        return result

    async def address(self, unit: str, manifest: Manifest) -> str | None:
        """The service's name on the stack network: reachable when Stellwerk runs on that
        network too (as a service of the same stack)."""
        if manifest.run.port is None:
            return None
        status = (await self.statuses([unit]))[unit]
        return f"{unit}:{manifest.run.port}" if status == RUNNING else None

    def _logs(self, unit: str, lines: int, after: str | None) -> LogChunk:
        import docker.errors

        try:
            service = self.client().services.get(unit)
        except docker.errors.NotFound:
            return LogChunk([], after or "")
        since = _since(after)
        options: dict[str, Any] = {"timestamps": True, "stdout": True, "stderr": True}
        options.update({"since": since} if since is not None else {"tail": lines})
        return _docker_lines(service.logs(**options), after)

    async def logs(self, unit: str, *, lines: int, after: str | None = None) -> LogChunk:
        result: LogChunk = await self.call(self._logs, unit, lines, after)
        return result

    def _units(self) -> list[str]:
        listed = self.client().services.list(filters={"label": "stellwerk.unit"})
        return sorted(str(service.name) for service in listed)

    async def units(self) -> list[str]:
        result: list[str] = await self.call(self._units)
        return result


def runtime_for(name: str, settings: Settings) -> ModuleRuntime:
    files = ModuleFiles.for_settings(settings)
    if name == "process":
        return ProcessRuntime(files, settings)
    if name == "container":
        return ContainerRuntime(settings)
    if name == "swarm":
        return SwarmRuntime(settings)
    raise ValueError(f"unknown module runtime {name}")

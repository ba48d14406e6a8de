"""Coolify's REST API (`/api/v1`): a thin client on `ProviderHttp`, checked against the spec.

The current API, not the seed's: start/stop/restart are POST (a GET answers 405 since 4.3),
`POST /applications/public` needs `environment_name` or `environment_uuid`, deployments are read
at `GET /deployments/{uuid}`, Hetzner servers are created with `POST /servers/hetzner`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from stellwerk.config import Settings
from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.provider import registry
from stellwerk.provider.action import Action, ActionStatus
from stellwerk.provider.budget import Budget, token_fingerprint
from stellwerk.provider.check import Probe, Report, Target, clock, new_report, refused
from stellwerk.provider.error import (
    API_ERROR,
    CONFLICT,
    INVALID_ACTION,
    INVALID_CREDENTIALS,
    MISSING_CREDENTIALS,
    NOT_FOUND,
    PROVIDER_INACTIVE,
    RATE_LIMIT_EXCEEDED,
    VALIDATION_ERROR,
    ProviderError,
)
from stellwerk.provider.http import ProviderHttp
from stellwerk.provider.paas.base import (
    CreatedHetznerServer,
    Deployment,
    EnvVar,
    HetznerServerRequest,
    PaasApplication,
    PaasProject,
    PaasServer,
    PublicGitApp,
)
from stellwerk.provider.registry import SANDBOX_SECRET, Endpoint

PROVIDER = "coolify"
FINISHED = "finished"
FAILED_STATES = frozenset({"failed", "cancelled-by-user", "cancelled"})
ACTIVE_STATES = frozenset({"queued", "in_progress"})
ABILITY = re.compile(r"Missing required permissions: ([\w:, ]+)")
HIDDEN_VALUES = (
    "Coolify hides environment values from this token: give it the read:sensitive ability "
    "(or root), or Stellwerk cannot keep SECRET_KEY and the marketplace key"
)


def map_error(response: httpx.Response) -> ProviderError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    message = str(body.get("message") or f"Coolify answered HTTP {response.status_code}")
    status = response.status_code
    field = None
    errors = body.get("errors")
    if isinstance(errors, dict) and errors:
        field = next(iter(errors))
        details = errors[field]
        if isinstance(details, list) and details:
            message = f"{message} {field}: {details[0]}"
    retryable = False
    missing = ABILITY.search(message)
    if status == 401:
        code = INVALID_CREDENTIALS
    elif status == 403 and missing:
        # ApiAbility: the token lacks the route's ability.
        code = INVALID_CREDENTIALS
        message = (
            f"The Coolify token lacks the {missing.group(1)} ability; create a token with "
            f"read, write, deploy and read:sensitive (Coolify: {message})"
        )
    elif status == 403:
        code = PROVIDER_INACTIVE if "disabled" in message.lower() else INVALID_CREDENTIALS
    elif status == 404:
        code = NOT_FOUND
    elif status == 405:
        code = INVALID_ACTION
    elif status == 409:
        code = CONFLICT
    elif status == 400 and "has resources" in message:
        # ProjectController::delete_project while an application's DeleteResourceJob still
        # runs: it passes once the job did.
        code, retryable = CONFLICT, True
    elif status in (400, 422):
        code = VALIDATION_ERROR
    elif status == 429:
        code = RATE_LIMIT_EXCEEDED
    else:
        code = API_ERROR
        if status >= 500 and body.get("message"):
            # Laravel's 5xx body says only "Server Error": keep the status for the reason.
            message = f"Coolify answered HTTP {status}: {message}"
    return ProviderError(
        code,
        message,
        provider=PROVIDER,
        field=field,
        original=body or response.text[:500],
        retryable=retryable,
    )


def _split(value: Any) -> list[str]:
    if not value:
        return []
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _app(data: Mapping[str, Any]) -> PaasApplication:
    raw = str(data.get("status") or "unknown")
    status, _, health = raw.partition(":")
    return PaasApplication(
        uuid=str(data["uuid"]),
        name=str(data.get("name", "")),
        status=status,
        health=health or None,
        fqdn=data.get("fqdn"),
        project_uuid=data.get("project_uuid"),
        git_repository=data.get("git_repository"),
        git_branch=data.get("git_branch"),
    )


def _server(data: Mapping[str, Any]) -> PaasServer:
    settings = data.get("settings") or {}
    reachable = settings.get("is_reachable") if isinstance(settings, dict) else None
    return PaasServer(
        uuid=str(data["uuid"]),
        name=str(data.get("name", "")),
        ip=data.get("ip"),
        reachable=reachable,
    )


def _env(data: Mapping[str, Any]) -> EnvVar:
    return EnvVar(
        key=str(data["key"]),
        value=str(
            data.get("value") if data.get("value") is not None else data.get("real_value", "")
        ),
        is_preview=bool(data.get("is_preview", False)),
        is_literal=bool(data.get("is_literal", False)),
        uuid=data.get("uuid"),
    )


def _deployment(data: Mapping[str, Any]) -> Deployment:
    # Coolify names the application by its numeric `application_id` (a string), not its uuid.
    application_id = data.get("application_id")
    return Deployment(
        uuid=str(data.get("deployment_uuid") or data.get("uuid")),
        status=str(data.get("status", "unknown")),
        application_uuid=data.get("application_uuid"),
        application_id=None if application_id is None else str(application_id),
        logs=deployment_log_text(data.get("logs")),
    )


def deployment_log_text(raw: object) -> str | None:
    """A deployment's `logs` as text. Coolify stores a JSON array in a string
    (ApplicationDeploymentQueue::addLogEntry): `{command, output, type, timestamp, hidden,
    batch, order}`; entries marked `hidden` (its commands) are left out, as its UI does."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        entries = json.loads(raw)
    except ValueError:
        return raw  # an older Coolify: plain text
    if not isinstance(entries, list):
        return None
    lines = []
    for entry in sorted(
        (e for e in entries if isinstance(e, dict)), key=lambda e: int(e.get("order") or 0)
    ):
        if entry.get("hidden"):
            continue
        output = str(entry.get("output") or "").rstrip()
        if not output:
            continue
        stamp = str(entry.get("timestamp") or "")[:19].replace("T", " ")
        marker = " !" if entry.get("type") == "stderr" else ""
        lines.append(f"[{stamp}]{marker} {output}" if stamp else output)
    return "\n".join(lines)


def _action_status(status: str) -> ActionStatus:
    if status == FINISHED:
        return "success"
    if status in FAILED_STATES:
        return "error"
    return "running"


class CoolifyPaas:
    name = PROVIDER

    def __init__(
        self,
        *,
        api_url: str | None,
        token: str | None,
        budget: Budget | None = None,
        timeout: float = 60.0,
        max_attempts: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
        deletion_timeout: float = 120.0,
        poll_interval: float = 1.0,
    ) -> None:
        self.deletion_timeout = deletion_timeout
        self.poll_interval = poll_interval
        if not api_url or not token:
            raise ProviderError(
                MISSING_CREDENTIALS,
                "Coolify needs COOLIFY_API_URL and COOLIFY_API_TOKEN",
                provider=PROVIDER,
            )
        self.http = ProviderHttp(
            provider=PROVIDER,
            base_url=api_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            map_error=map_error,
            budget=budget,
            budget_key=(PROVIDER, token_fingerprint(token)),
            timeout=timeout,
            max_attempts=max_attempts,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, path, **kwargs)
        if not response.content:
            return None
        return response.json()

    # Projects
    async def list_projects(self) -> list[PaasProject]:
        data = await self._json("GET", "/projects", timeout=20.0)
        return [
            PaasProject(uuid=p["uuid"], name=p.get("name", ""), description=p.get("description"))
            for p in data or []
        ]

    async def get_project(self, *, uuid: str) -> PaasProject:
        p = await self._json("GET", f"/projects/{uuid}", timeout=20.0)
        return PaasProject(uuid=p["uuid"], name=p.get("name", ""), description=p.get("description"))

    async def create_project(self, *, name: str, description: str | None = None) -> PaasProject:
        body: dict[str, Any] = {"name": name}
        if description is not None:
            body["description"] = description
        data = await self._json("POST", "/projects", json=body, timeout=30.0)
        return PaasProject(uuid=data["uuid"], name=name, description=description)

    async def delete_project(self, *, uuid: str) -> None:
        await self._json("DELETE", f"/projects/{uuid}", timeout=30.0)

    # Applications
    async def list_applications(self) -> list[PaasApplication]:
        data = await self._json("GET", "/applications", timeout=20.0)
        return [_app(a) for a in data or []]

    async def get_application(self, *, uuid: str) -> PaasApplication:
        return _app(await self._json("GET", f"/applications/{uuid}", timeout=20.0))

    async def create_public_application(self, *, app: PublicGitApp) -> PaasApplication:
        body: dict[str, Any] = {
            "project_uuid": app.project_uuid,
            "server_uuid": app.server_uuid,
            "environment_name": app.environment_name,
            "git_repository": app.git_repository,
            "git_branch": app.git_branch,
            "build_pack": app.build_pack,
            "ports_exposes": app.ports_exposes,
            "name": app.name,
            "is_force_https_enabled": app.is_force_https_enabled,
            "is_auto_deploy_enabled": app.is_auto_deploy_enabled,
            "health_check_enabled": app.health_check_enabled,
            "health_check_path": app.health_check_path,
            "health_check_interval": app.health_check_interval,
            "instant_deploy": False,
            **dict(app.extra),
        }
        if app.domains:
            body["domains"] = ",".join(app.domains)
        if app.description:
            body["description"] = app.description
        data = await self._json("POST", "/applications/public", json=body, timeout=60.0)
        return PaasApplication(
            uuid=data["uuid"],
            name=app.name,
            status="exited",
            fqdn=",".join(app.domains) or None,
            project_uuid=app.project_uuid,
            git_repository=app.git_repository,
            git_branch=app.git_branch,
        )

    async def delete_application(self, *, uuid: str) -> None:
        """Delete, and wait until Coolify's DeleteResourceJob (queued, it stops the containers
        first) removed it: until then the project "has resources" and refuses to go."""
        await self._json(
            "DELETE",
            f"/applications/{uuid}",
            # Everything the application leaves on the server goes with it.
            params={
                "delete_configurations": "true",
                "delete_volumes": "true",
                "docker_cleanup": "true",
                "delete_connected_networks": "true",
            },
            timeout=60.0,
        )
        deadline = time.monotonic() + self.deletion_timeout
        while time.monotonic() < deadline:
            try:
                await self._json("GET", f"/applications/{uuid}", timeout=20.0)
            except ProviderError as error:
                if error.code == NOT_FOUND:
                    return
                raise
            await asyncio.sleep(self.poll_interval)
        raise ProviderError(
            API_ERROR,
            f"Coolify is still deleting application {uuid}",
            provider=PROVIDER,
            retryable=True,
        )

    async def update_application(
        self,
        *,
        uuid: str,
        git_branch: str | None = None,
        git_commit_sha: str | None = None,
        domains: Sequence[str] | None = None,
    ) -> None:
        """PATCH the application: only the fields given change (`domains` replaces the list)."""
        body: dict[str, Any] = {}
        if git_branch is not None:
            body["git_branch"] = git_branch
        if git_commit_sha is not None:
            body["git_commit_sha"] = git_commit_sha
        if domains is not None:
            body["domains"] = ",".join(domains)
        if body:
            # Setting the same values again leaves the same state.
            await self._json(
                "PATCH", f"/applications/{uuid}", json=body, timeout=30.0, idempotent=True
            )

    # Environment variables
    async def list_envs(self, *, app_uuid: str) -> list[EnvVar]:
        data = await self._json("GET", f"/applications/{app_uuid}/envs", timeout=20.0)
        # Without `read:sensitive` (or `root`) every variable comes without `value` and
        # `real_value` (EnvironmentVariable::$hidden): unknown is not empty.
        if any("value" not in e and "real_value" not in e for e in data or []):
            raise ProviderError(INVALID_CREDENTIALS, HIDDEN_VALUES, provider=PROVIDER)
        return [_env(e) for e in data or []]

    async def create_env(self, *, app_uuid: str, env: EnvVar) -> EnvVar:
        data = await self._json(
            "POST",
            f"/applications/{app_uuid}/envs",
            json={
                "key": env.key,
                "value": env.value,
                "is_preview": env.is_preview,
                "is_literal": env.is_literal,
            },
            timeout=30.0,
        )
        return EnvVar(
            key=env.key,
            value=env.value,
            is_preview=env.is_preview,
            is_literal=env.is_literal,
            uuid=data.get("uuid"),
        )

    async def set_envs(self, *, app_uuid: str, envs: Sequence[EnvVar]) -> list[EnvVar]:
        data = await self._json(
            "PATCH",
            f"/applications/{app_uuid}/envs/bulk",
            json={
                "data": [
                    {
                        "key": e.key,
                        "value": e.value,
                        "is_preview": e.is_preview,
                        "is_literal": e.is_literal,
                    }
                    for e in envs
                ]
            },
            timeout=30.0,
            # The bulk endpoint sets values: sending it twice leaves the same state.
            idempotent=True,
        )
        return [_env(e) for e in data or []]

    async def delete_env(self, *, app_uuid: str, env_uuid: str) -> None:
        await self._json("DELETE", f"/applications/{app_uuid}/envs/{env_uuid}", timeout=30.0)

    # Lifecycle
    def _action(self, deployment_uuid: str, command: str, status: str) -> Action:
        async def refresh() -> Action:
            deployment = await self.get_deployment(uuid=deployment_uuid)
            return self._action(deployment_uuid, command, deployment.status)

        return Action(
            id=deployment_uuid,
            command=command,
            status=_action_status(status),
            progress=100 if status == FINISHED else 0,
            refresh=refresh,
            error=f"deployment {deployment_uuid} {status}" if status in FAILED_STATES else None,
        )

    async def _lifecycle(
        self, app_uuid: str, action: str, params: Mapping[str, Any] | None = None
    ) -> Any:
        return await self._json(
            "POST", f"/applications/{app_uuid}/{action}", params=params, timeout=30.0
        )

    async def _queued(self, app_uuid: str, data: Any) -> str:
        """The deployment a start or restart queued; when Coolify skipped it ("Deployment
        already queued for this commit.", no `deployment_uuid`), the one already running."""
        if isinstance(data, dict) and data.get("deployment_uuid"):
            return str(data["deployment_uuid"])
        for deployment in await self.list_deployments(app_uuid=app_uuid):
            if deployment.status in ACTIVE_STATES:
                return deployment.uuid
        message = data.get("message") if isinstance(data, dict) else None
        raise ProviderError(
            API_ERROR,
            f"Coolify started no deployment ({message or 'no answer'})",
            provider=PROVIDER,
            retryable=True,
        )

    async def deploy(self, *, app_uuid: str, force: bool = False) -> Action:
        data = await self._lifecycle(app_uuid, "start", {"force": "true" if force else "false"})
        return self._action(await self._queued(app_uuid, data), "deploy", "queued")

    async def start(self, *, app_uuid: str) -> Action:
        data = await self._lifecycle(app_uuid, "start")
        return self._action(await self._queued(app_uuid, data), "start", "queued")

    async def stop(self, *, app_uuid: str) -> None:
        await self._lifecycle(app_uuid, "stop")

    async def restart(self, *, app_uuid: str) -> Action:
        data = await self._lifecycle(app_uuid, "restart")
        return self._action(await self._queued(app_uuid, data), "restart", "queued")

    async def get_deployment(self, *, uuid: str) -> Deployment:
        return _deployment(await self._json("GET", f"/deployments/{uuid}", timeout=20.0))

    async def list_deployments(self, *, app_uuid: str) -> list[Deployment]:
        data = await self._json("GET", f"/deployments/applications/{app_uuid}", timeout=20.0)
        items = data.get("deployments", []) if isinstance(data, dict) else data or []
        return [_deployment(d) for d in items]

    # Servers
    async def list_servers(self) -> list[PaasServer]:
        return [_server(s) for s in await self._json("GET", "/servers", timeout=20.0) or []]

    async def get_server(self, *, uuid: str) -> PaasServer:
        return _server(await self._json("GET", f"/servers/{uuid}", timeout=20.0))

    async def create_hetzner_server(self, *, request: HetznerServerRequest) -> CreatedHetznerServer:
        body: dict[str, Any] = {
            "cloud_provider_token_uuid": request.cloud_provider_token_uuid,
            "location": request.location,
            "server_type": request.server_type,
            "image": request.image,
            "private_key_uuid": request.private_key_uuid,
            "enable_ipv4": request.enable_ipv4,
            "enable_ipv6": request.enable_ipv6,
            "instant_validate": request.instant_validate,
        }
        if request.name:
            body["name"] = request.name
        data = await self._json("POST", "/servers/hetzner", json=body, timeout=60.0)
        return CreatedHetznerServer(
            uuid=data["uuid"], hetzner_server_id=data.get("hetzner_server_id"), ip=data.get("ip")
        )

    async def hetzner_catalog(
        self, *, kind: str, cloud_provider_token_uuid: str
    ) -> list[dict[str, Any]]:
        """Hetzner `locations`, `server-types` or `images` as Coolify sees them."""
        data = await self._json(
            "GET",
            f"/hetzner/{kind}",
            params={"cloud_provider_token_uuid": cloud_provider_token_uuid},
            timeout=20.0,
        )
        return list(data or [])


def open_paas(settings: Settings, endpoint: Endpoint, limiter: RateLimiter) -> CoolifyPaas:
    """Coolify at `COOLIFY_API_URL` (with or without `/api/v1`) with `COOLIFY_API_TOKEN`."""
    token = settings.coolify_api_token
    return CoolifyPaas(
        api_url=endpoint.url,
        token=SANDBOX_SECRET if endpoint.sandbox or token is None else token.get_secret_value(),
        budget=Budget(limiter, registry.budget_limits(PROVIDER)),
    )


# An application uuid no instance has: the deploy-ability probe asks Coolify to start it.
PROBE_UUID = "stellwerk-check-nonexistent"
TOKEN_HOW = (
    "Create an API token in Coolify (Keys & Tokens → API tokens) with the abilities read, "
    "write, deploy and read:sensitive (or root), as a team admin, and set COOLIFY_API_TOKEN"
)


async def check(target: Target) -> Report:
    """Coolify: the URL and token (`GET /version`), then each ability Stellwerk needs.

    Coolify cannot list a token's abilities, so each is probed with a call that changes
    nothing: `read` lists projects; `write` sends `POST /projects` without a name (refused
    with 422 when the token may write, 403 when not); `deploy` asks to start an application
    that does not exist (404 when the token may deploy, 403 when not); `read:sensitive` shows
    in whether the private keys come with their `private_key` (SecurityController::keys)."""
    report = new_report(target)
    token = target.credentials.get("token") or ""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    async with Probe(report, base_url=target.url, headers=headers) as probe:
        version = await probe.request("GET", "/version")
        if version is None:
            return report
        if version.status_code == 401:
            refused(report, 401, TOKEN_HOW)
            return report
        page = version.text.lstrip().startswith("<")
        if version.status_code in (301, 302) or page:
            report.fail(
                f"{target.url} is not Coolify's API (it answered a web page)",
                "Set COOLIFY_API_URL to the instance's address (with or without /api/v1)",
            )
            return report
        if version.status_code == 403 and "disabled" in version.text.lower():
            report.fail(
                "Coolify's API is disabled", "Enable it in Coolify: Settings → Advanced → API"
            )
            return report
        missing: list[str] = []
        if version.is_success:
            report.ok(f"Coolify {version.text.strip()[:40]}; the token works")
        elif version.status_code == 403:
            missing.append("read")
        write = await probe.request("POST", "/projects", json={})
        if write is not None and write.status_code == 403:
            missing.append("write")
        deploy = await probe.request("POST", f"/applications/{PROBE_UUID}/start")
        if deploy is not None and deploy.status_code == 403:
            missing.append("deploy")
        keys = await probe.request("GET", "/security/keys")
        if keys is not None and keys.is_success:
            listed = keys.json() if isinstance(keys.json(), list) else []
            if not listed:
                report.warn("Cannot tell whether the token may read secrets (no private keys)")
            elif any("private_key" not in k for k in listed):
                missing.append("read:sensitive")
        if missing:
            report.fail(
                f"The token lacks the abilities {', '.join(missing)} "
                f"({'; '.join(ABILITY_USES[a] for a in missing)})",
                TOKEN_HOW,
            )
        else:
            report.ok("The token has read, write, deploy and read:sensitive")
    if report.rate_limit:
        report.ok(
            f"Rate limit {report.rate_limit.get('limit')} a minute, "
            f"{report.rate_limit.get('remaining')} left"
        )
    clock(report)
    return report


ABILITY_USES = {
    "read": "read: looking anything up",
    "write": "write: making projects, applications and variables",
    "deploy": "deploy: starting, restarting and stopping applications",
    "read:sensitive": "read:sensitive: reading variable values, to keep SECRET_KEY",
}

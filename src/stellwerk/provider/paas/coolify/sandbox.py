"""The Coolify sandbox: the current REST API at `/api/v1`, stateful, as Coolify 4.x answers.

- Bearer tokens beginning with `sandbox-`; others get 401 `{"message": "Unauthenticated."}`.
- Projects (with a `production` environment), applications from public git, environment
  variables (single and bulk), servers (pre-seeded `hetzner-1`), Hetzner servers through
  `POST /servers/hetzner`, deployments that go queued → in_progress → finished.
- start/stop/restart are POST; a GET on them answers 405 "This endpoint has changed to a POST
  request." (Coolify 4.3+).
- `GET /__app__/{domain}/health` answers as the deployed application's health URL would.
- A deployment's `logs` grow while it runs, as ApplicationDeploymentJob writes them: a JSON
  array (in a string) of `{command, output, type, timestamp, hidden, batch, order}`.
- Switches under `/__sandbox__/deployments`: `{"fail": N, "queue_seconds": s, "build_seconds": s}`
  makes the next N deployments fail and sets how long they queue and build.
"""

from __future__ import annotations

import json
import os
import random
import re
import string
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from stellwerk.provider import registry
from stellwerk.provider.compute.hetzner import catalog as hetzner
from stellwerk.provider.sandbox.kit import (
    JsonState,
    RateLimitStyle,
    SandboxMiddleware,
    SandboxProfile,
)
from stellwerk.provider.sandbox.openapi import (
    OpenApiCheck,
    Problem,
    Spec,
    allow_null,
    drop_required,
    field_errors,
    response_schema,
)

SEED_SERVER_UUID = "hetzner1server0uuid0000"
_SEEDS = registry.entry("coolify").sandbox.seeds  # type: ignore[union-attr]
SEED_SERVER_NAME = _SEEDS["server_name"]
SEED_KEY_UUID = _SEEDS["private_key_uuid"]
SEED_CLOUD_TOKEN_UUID = _SEEDS["hetzner_token_uuid"]
BUILD_PACKS = ("nixpacks", "static", "dockerfile", "dockercompose")
COOLIFY_VERSION = "4.3.11"  # the version shared/specs/coolify.json documents
# update_by_uuid's $allowedFields: the body properties of PATCH /applications/{uuid}.
PATCHABLE = frozenset(
    json.loads((Path(__file__).parent / "spec.json").read_text())["paths"]["/applications/{uuid}"][
        "patch"
    ]["requestBody"]["content"]["application/json"]["schema"]["properties"]
)
# delete_by_uuid's query switches, each a boolean that defaults to true.
CLEANUP_PARAMS = (
    "delete_configurations",
    "delete_volumes",
    "docker_cleanup",
    "delete_connected_networks",
)


def _uuid() -> str:
    # Coolify's uuids are 24 lower-case letters and digits (cuid2 style).
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=24))


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


# The lines ApplicationDeploymentJob writes (addLogEntry), by the share of the build time after
# which each appears; `hidden` ones are the commands Coolify shows only in debug mode.
_BUILD_LOG: tuple[tuple[float, str, str, bool], ...] = (
    (0.0, "stdout", "Starting deployment of {repo}:{branch} to hetzner-1.", False),
    (
        0.02,
        "stdout",
        "Preparing container with helper image: ghcr.io/coollabsio/coolify-helper:1.0.8.",
        False,
    ),
    (0.05, "stdout", "docker rm -f {uuid}", True),
    (0.1, "stdout", "Importing {repo}:{branch} (commit sha HEAD) to /artifacts/{uuid}.", False),
    (
        0.2,
        "stdout",
        "Generating nixpacks configuration with: nixpacks plan -f toml /artifacts/{uuid}",
        False,
    ),
    (0.3, "stdout", "Building docker image started.", False),
    (
        0.35,
        "stdout",
        "#5 [stage-0 2/9] RUN nix-env -if .nixpacks/nixpkgs.nix && nix-collect-garbage -d",
        False,
    ),
    (0.55, "stdout", "#9 [stage-0 6/9] RUN pip install -r requirements.txt", False),
    (0.7, "stdout", "#12 exporting to image", False),
)
_SUCCESS_LOG: tuple[tuple[float, str, str, bool], ...] = (
    (0.8, "stdout", "Building docker image completed.", False),
    (0.85, "stdout", "Rolling update started.", False),
    (0.9, "stdout", "New container started.", False),
    (0.95, "stdout", "Removing old containers.", False),
    (1.0, "stdout", "Rolling update completed.", False),
)
_FAILURE_LOG: tuple[tuple[float, str, str, bool], ...] = (
    (
        0.75,
        "stderr",
        '#12 ERROR: process "/bin/bash -ol pipefail -c pip install -r requirements.txt" '
        "did not complete successfully: exit code: 1",
        False,
    ),
    (0.9, "stderr", "Oops something is not okay, are you okay? 😢", False),
    (0.95, "stderr", "Deployment failed. Removing the new version of your application.", False),
    (1.0, "stderr", "Gracefully shutting down build container: {uuid}", False),
)


def _log_entries(
    deployment: dict[str, Any], data: dict[str, Any], now: float
) -> list[dict[str, Any]]:
    """The entries written by `now`: none while queued, then the build, then its end."""
    started = deployment["_start_at"]
    if now < started:
        return []
    span = max(deployment["_done_at"] - started, 0.001)
    app = data["applications"].get(deployment["_application_uuid"], {})
    values = {
        "repo": app.get("git_repository", "example/app"),
        "branch": app.get("git_branch", "main"),
        "uuid": deployment["deployment_uuid"],
    }
    lines = _BUILD_LOG + (_FAILURE_LOG if deployment["_fail"] else _SUCCESS_LOG)
    if deployment.get("restart_only"):
        lines = ((0.0, "stdout", "Restarting {repo}:{branch} on hetzner-1.", False), *lines[-2:])
    entries: list[dict[str, Any]] = []
    for share, kind, text, hidden in lines:
        at = started + share * span
        if at > now:
            break
        entries.append(
            {
                "command": None,
                "output": text.format(**values),
                "type": kind,
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(at)),
                "hidden": hidden,
                "batch": 1,
                "order": len(entries) + 1,
            }
        )
    return entries


def _initial() -> dict[str, Any]:
    return {
        "projects": {},
        "applications": {},
        "envs": {},
        "deployments": {},
        "servers": {
            SEED_SERVER_UUID: {
                "id": 1,
                "uuid": SEED_SERVER_UUID,
                "name": SEED_SERVER_NAME,
                "description": "Pre-seeded sandbox server",
                "ip": "203.0.113.10",
                "port": 22,
                "user": "root",
                "proxy_type": "traefik",
                "settings": {"is_reachable": True, "is_usable": True, "is_build_server": False},
            }
        },
        "keys": {
            SEED_KEY_UUID: {
                "uuid": SEED_KEY_UUID,
                "name": "sandbox-key",
                "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nsandbox\n"
                "-----END OPENSSH PRIVATE KEY-----\n",
            }
        },
        "cloud_tokens": {
            SEED_CLOUD_TOKEN_UUID: {
                "uuid": SEED_CLOUD_TOKEN_UUID,
                "name": "hetzner",
                "provider": "hetzner",
            }
        },
        "switches": {
            "fail": 0,
            "queue_seconds": float(
                os.environ.get("STELLWERK_SANDBOX_COOLIFY_QUEUE_SECONDS", "0.5")
            ),
            "build_seconds": float(
                os.environ.get("STELLWERK_SANDBOX_COOLIFY_BUILD_SECONDS", "1.5")
            ),
            # How long DeleteResourceJob takes (it stops the containers first).
            "delete_seconds": float(
                os.environ.get("STELLWERK_SANDBOX_COOLIFY_DELETE_SECONDS", "1.0")
            ),
        },
        # Tokens with their abilities (`/__sandbox__/tokens`); any other `sandbox-` token is root.
        "tokens": {},
        "_counters": {"id": 2},
    }


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def _not_found(what: str) -> JSONResponse:
    return _json({"message": f"{what} not found."}, 404)


def _invalid(errors: dict[str, list[str]]) -> JSONResponse:
    return _json({"message": "Validation failed.", "errors": errors}, 422)


def _refuse(problems: list[Problem]) -> JSONResponse:
    """A body Coolify's validator refuses; a field outside `$allowedFields` is "This field is not
    allowed." (HetznerController::createServer, ApplicationsController::create_application)."""
    return _invalid(
        field_errors(
            [
                Problem(p.field, "This field is not allowed.")
                if p.message == "unknown field"
                else p
                for p in problems
            ]
        )
    )


# Where coolify.json contradicts Coolify's code:
QUIRKS = (
    # "at least one of environment_name or environment_uuid" (create_application), not both.
    drop_required("/applications/public", "post", "environment_name", "environment_uuid"),
    # HetznerController::createServer makes servers without a description: it answers null.
    allow_null("Server", "description"),
    # DeployController::get_application_deployments answers Application::deployments():
    # {"count", "deployments"}; the document says "array of Application".
    response_schema(
        "/deployments/applications/{uuid}",
        "get",
        "200",
        {
            "type": "object",
            "required": ["count", "deployments"],
            "properties": {
                "count": {"type": "integer"},
                "deployments": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/ApplicationDeploymentQueue"},
                },
            },
        },
    ),
)


class CoolifySandbox:
    def __init__(self, state_dir: Path | None) -> None:
        self.state = JsonState(state_dir / "coolify.json" if state_dir else None, _initial)

    @property
    def data(self) -> dict[str, Any]:
        return self.state.data

    def _id(self) -> int:
        return self.state.next_id("id")

    # --- deployments progress with the clock ---------------------------------------------
    def _advance(self) -> None:
        now = time.time()
        changed = False
        for app in list(self.data["applications"].values()):
            # DeleteResourceJob ran: the application and its variables are gone.
            if app.get("_deleted_at") is not None and now >= app["_deleted_at"]:
                del self.data["applications"][app["uuid"]]
                self.data["envs"].pop(app["uuid"], None)
                changed = True
        for deployment in self.data["deployments"].values():
            status = deployment["status"]
            if status == "queued" and now >= deployment["_start_at"]:
                deployment["status"] = "in_progress"
                deployment["_started"] = deployment["_start_at"]
                changed = True
                status = "in_progress"
            if status == "in_progress" and now >= deployment["_done_at"]:
                deployment["status"] = "failed" if deployment["_fail"] else "finished"
                deployment["_finished"] = deployment["_done_at"]
                deployment["updated_at"] = _now()
                app = self.data["applications"].get(deployment["_application_uuid"])
                if app is not None:
                    if deployment["_fail"]:
                        app["status"] = "exited:unhealthy"
                    else:
                        app["status"] = "running:healthy"
                changed = True
        if changed:
            self.state.save()

    @staticmethod
    def _public(item: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in item.items() if not k.startswith("_")}

    def _deployment_view(self, deployment: dict[str, Any], request: Request) -> dict[str, Any]:
        """The deployment as the API shows it, its log as far as the clock has come."""
        view = self._public(deployment)
        view["logs"] = json.dumps(_log_entries(deployment, self.data, time.time()))
        # DeployController::removeSensitiveData: `logs` hidden without `read:sensitive`.
        if not self.sensitive(request):
            del view["logs"]
        return view

    def _queue_deployment(
        self, app: dict[str, Any], *, restart_only: bool = False
    ) -> dict[str, Any]:
        switches = self.data["switches"]
        fail = switches["fail"] > 0
        if fail:
            switches["fail"] -= 1
        now = time.time()
        deployment_uuid = _uuid()
        deployment = {
            "id": self._id(),
            "deployment_uuid": deployment_uuid,
            # ApplicationDeploymentQueue::$fillable: `application_id` (a numeric string), no
            # `application_uuid` (the sandbox keeps it privately).
            "application_id": str(app["id"]),
            "_application_uuid": app["uuid"],
            "application_name": app["name"],
            "server_id": 1,
            "server_name": "hetzner-1",
            "status": "queued",
            # queue_application_deployment(commit: $application->git_commit_sha).
            "commit": app.get("git_commit_sha") or "HEAD",
            "force_rebuild": False,
            "is_api": True,
            "is_webhook": False,
            "restart_only": restart_only,
            "rollback": False,
            "only_this_server": False,
            "pull_request_id": 0,
            "deployment_url": (
                f"/project/{app['_project_uuid']}/environment/production"
                f"/application/{app['uuid']}/deployment/{deployment_uuid}"
            ),
            "logs": "[]",  # filled in as the deployment runs (`_log_entries`)
            "created_at": _now(),
            "updated_at": _now(),
            "_fail": fail,
            "_queued": now,
            "_start_at": now + switches["queue_seconds"],
            "_done_at": now + switches["queue_seconds"] + switches["build_seconds"],
        }
        self.data["deployments"][deployment_uuid] = deployment
        app["status"] = "starting:unknown" if app["status"].startswith("exited") else app["status"]
        self.state.save()
        return deployment

    # --- projects --------------------------------------------------------------------------
    async def projects(self, request: Request) -> JSONResponse:
        if request.method == "GET":
            return _json([self._project_summary(p) for p in self.data["projects"].values()])
        body = await _body(request)
        if body is None:
            return _invalid({"body": ["The body must be a JSON object."]})
        name = body.get("name")
        # ProjectController::create_project: 'name' => 'string|max:255|required'.
        if not isinstance(name, str) or not name.strip():
            return _invalid({"name": ["The name field is required."]})
        if len(name) > 255:
            return _invalid({"name": ["The name may not be greater than 255 characters."]})
        project_uuid = _uuid()
        project = {
            "id": self._id(),
            "uuid": project_uuid,
            "name": name,
            "description": str(body.get("description") or ""),
            "environments": [
                {"id": self._id(), "uuid": _uuid(), "name": "production", "project_id": 0}
            ],
            "created_at": _now(),
            "updated_at": _now(),
        }
        self.data["projects"][project_uuid] = project
        self.state.save()
        return _json({"uuid": project_uuid}, 201)

    @staticmethod
    def _project_summary(project: dict[str, Any]) -> dict[str, Any]:
        return {k: project[k] for k in ("id", "uuid", "name", "description")}

    async def project(self, request: Request) -> JSONResponse:
        self._advance()
        project = self.data["projects"].get(request.path_params["uuid"])
        if project is None:
            return _not_found("Project")
        if request.method == "GET":
            return _json(project)
        if request.method == "DELETE":
            if any(
                a["_project_uuid"] == project["uuid"] for a in self.data["applications"].values()
            ):
                return _json({"message": "Project has resources, so it cannot be deleted."}, 400)
            del self.data["projects"][project["uuid"]]
            self.state.save()
            return _json({"message": "Project deleted."})
        body = await _body(request) or {}
        for key in ("name", "description"):
            if key in body:
                project[key] = body[key]
        self.state.save()
        return _json(
            {
                "uuid": project["uuid"],
                "name": project["name"],
                "description": project["description"],
            },
            201,
        )

    async def environments(self, request: Request) -> JSONResponse:
        project = self.data["projects"].get(request.path_params["uuid"])
        if project is None:
            return _not_found("Project")
        return _json(project["environments"])

    # --- applications --------------------------------------------------------------------------
    async def applications(self, request: Request) -> JSONResponse:
        self._advance()
        return _json([self._public(a) for a in self.data["applications"].values()])

    async def create_public(self, request: Request) -> JSONResponse:
        body = await _body(request)
        if body is None:
            return _invalid({"body": ["The body must be a JSON object."]})
        # ApplicationsController::create_application: the required fields, "at least one of
        # environment_name or environment_uuid", the build pack enum, ports_exposes unless
        # dockercompose, a git URL, and domains as http(s) URLs.
        errors: dict[str, list[str]] = {}
        for key in ("project_uuid", "server_uuid", "git_repository", "git_branch", "build_pack"):
            if not isinstance(body.get(key), str) or not body.get(key):
                errors[key] = [f"The {key.replace('_', ' ')} field is required."]
        if not body.get("environment_name") and not body.get("environment_uuid"):
            errors["environment_name"] = [
                "The environment name field is required when environment uuid is not present."
            ]
        if body.get("build_pack") and body["build_pack"] not in BUILD_PACKS:
            errors["build_pack"] = ["The selected build pack is invalid."]
        if body.get("build_pack") != "dockercompose" and not body.get("ports_exposes"):
            errors["ports_exposes"] = ["The ports exposes field is required."]
        repo = body.get("git_repository")
        if (
            isinstance(repo, str)
            and repo
            and not (repo.startswith(("https://", "http://", "git@")) or "/" in repo)
        ):
            errors["git_repository"] = ["The git repository format is invalid."]
        domains = _split_domains(body.get("domains"))
        for domain in domains:
            parsed = urlparse(domain)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                errors.setdefault("domains", []).append(f"Invalid domain: {domain}")
        if errors:
            return _invalid(errors)
        # The project, its environment and the server must exist (404s of create_application).
        project = self.data["projects"].get(body["project_uuid"])
        if project is None:
            return _not_found("Project")
        env_name = body.get("environment_name")
        environment = next(
            (
                e
                for e in project["environments"]
                if e["name"] == env_name or e["uuid"] == body.get("environment_uuid")
            ),
            None,
        )
        if environment is None:
            return _not_found("Environment")
        if body["server_uuid"] not in self.data["servers"]:
            return _not_found("Server")
        # A domain another application serves: 409 with the conflicts, unless
        # force_domain_override (create_application, checkDomainUsage).
        conflict = self._domain_conflicts(domains, body, None)
        if conflict is not None:
            return conflict
        app_uuid = _uuid()
        app = {
            "id": self._id(),
            "uuid": app_uuid,
            "name": body.get("name") or f"{repo}:{body['git_branch']}",
            "description": body.get("description"),
            "fqdn": ",".join(domains) or None,
            "git_repository": repo,
            "git_branch": body["git_branch"],
            "git_commit_sha": "HEAD",
            "build_pack": body["build_pack"],
            "ports_exposes": str(body.get("ports_exposes", "")),
            "status": "exited:unhealthy",
            "environment_id": environment["id"],
            "destination_id": 1,
            "destination_type": "App\\Models\\StandaloneDocker",
            "health_check_enabled": bool(body.get("health_check_enabled", False)),
            "health_check_path": body.get("health_check_path", "/"),
            "health_check_interval": int(body.get("health_check_interval", 5)),
            "health_check_port": body.get("health_check_port"),
            "health_check_method": "GET",
            "health_check_return_code": 200,
            "health_check_scheme": "http",
            "health_check_retries": 10,
            "health_check_timeout": 5,
            "health_check_start_period": 5,
            "settings": {
                "is_force_https_enabled": bool(body.get("is_force_https_enabled", True)),
                "is_auto_deploy_enabled": bool(body.get("is_auto_deploy_enabled", True)),
            },
            "created_at": _now(),
            "updated_at": _now(),
            "_project_uuid": project["uuid"],
            "_server_uuid": body["server_uuid"],
        }
        self.data["applications"][app_uuid] = app
        self.data["envs"][app_uuid] = []
        self.state.save()
        if body.get("instant_deploy"):
            self._queue_deployment(app)
        # create_application answers the domains as the comma-separated string it stored.
        return _json({"uuid": app_uuid, "domains": ",".join(domains)}, 201)

    def _domain_conflicts(
        self, domains: list[str], body: dict[str, Any], own_uuid: str | None
    ) -> JSONResponse | None:
        """checkDomainUsage (create_application and update_by_uuid): a domain another
        application serves is 409 with the conflicts, unless force_domain_override."""
        conflicts = []
        for other in self.data["applications"].values():
            if other["uuid"] == own_uuid:
                continue
            taken = {urlparse(d).hostname for d in _split_domains(other.get("fqdn"))}
            for domain in domains:
                if urlparse(domain).hostname in taken:
                    conflicts.append(
                        {
                            "domain": urlparse(domain).hostname,
                            "resource_name": other["name"],
                            "resource_uuid": other["uuid"],
                            "resource_type": "application",
                            "message": (
                                f"Domain {urlparse(domain).hostname} is already in use "
                                f"by application '{other['name']}'"
                            ),
                        }
                    )
        if not conflicts or body.get("force_domain_override"):
            return None
        return _json(
            {
                "message": "Domain conflicts detected. Use force_domain_override=true to proceed.",
                "warning": (
                    "Using the same domain for multiple resources can cause routing "
                    "conflicts and unpredictable behavior."
                ),
                "conflicts": conflicts,
            },
            409,
        )

    async def application(self, request: Request) -> JSONResponse:
        self._advance()
        app = self.data["applications"].get(request.path_params["uuid"])
        if app is None:
            return _not_found("Application")
        if request.method == "GET":
            return _json(self._public(app))
        if request.method == "DELETE":
            # delete_by_uuid dispatches DeleteResourceJob (ShouldQueue) and answers at once; the
            # application stays (and keeps its project non-empty) until the job ran.
            if app.get("_deleted_at") is None:
                app["_deleted_at"] = time.time() + self.data["switches"]["delete_seconds"]
                # delete_by_uuid's cleanup switches (each a query boolean, default true).
                app["_cleanup"] = {
                    key: request.query_params.get(key, "true").lower() in ("1", "true")
                    for key in CLEANUP_PARAMS
                }
            self.state.save()
            return _json({"message": "Application deletion request queued."})
        body = await _body(request)
        if body is None:
            return _invalid({"body": ["The body must be a JSON object."]})
        # update_by_uuid: fields outside $allowedFields are refused ("This field is not
        # allowed."); the OpenAPI body lists them (spec.json, PATCH /applications/{uuid}).
        extra = sorted(set(body) - PATCHABLE)
        if extra:
            return _invalid({key: ["This field is not allowed."] for key in extra})
        errors: dict[str, list[str]] = {}
        for key in ("name", "git_branch", "git_commit_sha", "git_repository"):
            if key in body and (not isinstance(body[key], str) or not body[key]):
                errors[key] = [f"The {key.replace('_', ' ')} field must be a string."]
        domains = _split_domains(body.get("domains")) if "domains" in body else None
        for domain in domains or []:
            parsed = urlparse(domain)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                errors.setdefault("domains", []).append(f"Invalid domain: {domain}")
        if errors:
            return _invalid(errors)
        if domains is not None:
            conflict = self._domain_conflicts(domains, body, app["uuid"])
            if conflict is not None:
                return conflict
        for key in (
            "name",
            "description",
            "git_branch",
            "git_commit_sha",
            "git_repository",
            "ports_exposes",
            "health_check_path",
        ):
            if key in body:
                app[key] = body[key]
        if domains is not None:
            app["fqdn"] = ",".join(domains) or None
        app["updated_at"] = _now()
        self.state.save()
        return _json({"uuid": app["uuid"]})

    # --- environment variables ----------------------------------------------------------------
    def _env(
        self, app: dict[str, Any], item: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        env = existing or {
            "id": self._id(),
            "uuid": _uuid(),
            "resourceable_type": "App\\Models\\Application",
            "resourceable_id": app["id"],
            "created_at": _now(),
            "is_shared": False,
            "version": "4.0.0",
        }
        env.update(
            {
                "key": item["key"],
                "value": str(item.get("value", "")),
                "real_value": str(item.get("value", "")),
                "is_preview": bool(item.get("is_preview", False)),
                "is_literal": bool(item.get("is_literal", False)),
                "is_multiline": bool(item.get("is_multiline", False)),
                "is_shown_once": bool(item.get("is_shown_once", False)),
                "is_buildtime": bool(item.get("is_buildtime", item.get("is_build_time", True))),
                "is_runtime": bool(item.get("is_runtime", True)),
                "updated_at": _now(),
            }
        )
        return env

    async def envs(self, request: Request) -> JSONResponse:
        app = self.data["applications"].get(request.path_params["uuid"])
        if app is None:
            return _not_found("Application")
        envs: list[dict[str, Any]] = self.data["envs"].setdefault(app["uuid"], [])
        if request.method == "GET":
            return _json([self.env_view(e, request) for e in envs])
        body = await _body(request)
        # create_env / update_env_by_uuid: 'key' => 'string|required'; a key that exists is
        # 409 on POST ("already exists. Use PATCH request to update it.").
        if body is None or not isinstance(body.get("key"), str) or not body["key"]:
            return _invalid({"key": ["The key field is required."]})
        existing = next(
            (
                e
                for e in envs
                if e["key"] == body["key"]
                and e["is_preview"] == bool(body.get("is_preview", False))
            ),
            None,
        )
        if request.method == "POST":
            if existing is not None:
                return _json(
                    {
                        "message": (
                            f"Environment variable {body['key']} already exists. "
                            "Use PATCH request to update it."
                        )
                    },
                    409,
                )
            env = self._env(app, body, None)
            envs.append(env)
            self.state.save()
            return _json({"uuid": env["uuid"]}, 201)
        if existing is None:
            return _not_found("Environment variable")
        env = self._env(app, body, existing)
        self.state.save()
        return _json(self.env_view(env, request), 201)

    async def envs_bulk(self, request: Request) -> JSONResponse:
        app = self.data["applications"].get(request.path_params["uuid"])
        if app is None:
            return _not_found("Application")
        body = await _body(request)
        items = body.get("data") if body else None
        # create_bulk_envs: 'data' => 'required|array', each with a 'key'.
        if not isinstance(items, list):
            return _invalid({"data": ["The data field is required."]})
        errors: dict[str, list[str]] = {}
        for index, item in enumerate(items):
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("key"), str)
                or not item["key"]
            ):
                errors[f"data.{index}.key"] = ["The key field is required."]
        if errors:
            return _invalid(errors)
        envs: list[dict[str, Any]] = self.data["envs"].setdefault(app["uuid"], [])
        touched = []
        for item in items:
            existing = next(
                (
                    e
                    for e in envs
                    if e["key"] == item["key"]
                    and e["is_preview"] == bool(item.get("is_preview", False))
                ),
                None,
            )
            env = self._env(app, item, existing)
            if existing is None:
                envs.append(env)
            touched.append(env)
        self.state.save()
        return _json([self.env_view(e, request) for e in touched], 201)

    async def env_delete(self, request: Request) -> JSONResponse:
        envs: list[dict[str, Any]] | None = self.data["envs"].get(request.path_params["uuid"])
        if envs is None:
            return _not_found("Application")
        env = next((e for e in envs if e["uuid"] == request.path_params["env_uuid"]), None)
        if env is None:
            return _not_found("Environment variable")
        envs.remove(env)
        self.state.save()
        return _json({"message": "Environment variable deleted."})

    # --- lifecycle ------------------------------------------------------------------------------
    async def lifecycle(self, request: Request) -> JSONResponse:
        if request.path_params["action"] not in ("start", "stop", "restart"):
            return _json({"message": "Not found."}, 404)
        if request.method != "POST":
            return _json(
                {"message": "This endpoint has changed to a POST request."}, 405, {"Allow": "POST"}
            )
        self._advance()
        app = self.data["applications"].get(request.path_params["uuid"])
        if app is None:
            return _not_found("Application")
        action = request.path_params["action"]
        if action == "stop":
            app["status"] = "exited:unhealthy"
            self.state.save()
            return _json({"message": "Application stopping request queued."})
        force = request.query_params.get("force", "false").lower() in ("1", "true")
        running = next(
            (
                d
                for d in self.data["deployments"].values()
                if d["_application_uuid"] == app["uuid"]
                and d["commit"] == app["git_commit_sha"]
                and d["status"] in ("queued", "in_progress")
            ),
            None,
        )
        # queue_application_deployment: a deployment of this commit is queued or in progress
        # (and no force): "skipped", and the controller answers 200 with the message only.
        if running is not None and not (force and action == "start"):
            return _json({"message": "Deployment already queued for this commit."})
        deployment = self._queue_deployment(app, restart_only=action == "restart")
        message = "Restart request queued." if action == "restart" else "Deployment request queued."
        return _json({"message": message, "deployment_uuid": deployment["deployment_uuid"]})

    async def deployments(self, request: Request) -> JSONResponse:
        self._advance()
        running = [
            d for d in self.data["deployments"].values() if d["status"] in ("queued", "in_progress")
        ]
        return _json([self._deployment_view(d, request) for d in running])

    async def deployment(self, request: Request) -> JSONResponse:
        self._advance()
        deployment = self.data["deployments"].get(request.path_params["uuid"])
        if deployment is None:
            return _not_found("Deployment")
        return _json(self._deployment_view(deployment, request))

    async def app_deployments(self, request: Request) -> JSONResponse:
        self._advance()
        app_uuid = request.path_params["uuid"]
        if app_uuid not in self.data["applications"]:
            return _not_found("Application")
        # DeployController::get_application_deployments → Application::deployments($skip,
        # $take): {"count", "deployments"}, newest first, 10 unless `take`.
        try:
            skip = max(0, int(request.query_params.get("skip", 0)))
            take = max(1, int(request.query_params.get("take", 10)))
        except ValueError:
            return _invalid({"take": ["The take field must be an integer."]})
        items = sorted(
            (d for d in self.data["deployments"].values() if d["_application_uuid"] == app_uuid),
            key=lambda d: d["id"],
            reverse=True,
        )
        return _json(
            {
                "count": len(items),
                "deployments": [self._public(d) for d in items[skip : skip + take]],
            }
        )

    # --- servers --------------------------------------------------------------------------------
    async def servers(self, request: Request) -> JSONResponse:
        return _json([self._public(s) for s in self.data["servers"].values()])

    async def server(self, request: Request) -> JSONResponse:
        server = self.data["servers"].get(request.path_params["uuid"])
        if server is None:
            return _not_found("Server")
        return _json(self._public(server))

    async def hetzner_server(self, request: Request) -> JSONResponse:
        body = await _body(request)
        if body is None:
            return _invalid({"body": ["The body must be a JSON object."]})
        # HetznerController::createServer's validator (location, server_type, image as an
        # integer, private_key_uuid, a cloud provider token), then 404s for the key and token.
        errors: dict[str, list[str]] = {}
        for key in ("location", "server_type", "private_key_uuid"):
            if not isinstance(body.get(key), str) or not body[key]:
                errors[key] = [f"The {key.replace('_', ' ')} field is required."]
        if not isinstance(body.get("image"), int):
            errors["image"] = ["The image field must be an integer."]
        token = body.get("cloud_provider_token_uuid") or body.get("cloud_provider_token_id")
        if not token:
            errors["cloud_provider_token_uuid"] = [
                "The cloud provider token uuid field is required."
            ]
        if errors:
            return _invalid(errors)
        if body["private_key_uuid"] not in self.data["keys"]:
            return _not_found("Private key")
        if token not in self.data["cloud_tokens"]:
            return _not_found("Cloud provider token")
        # Coolify hands the request to Hetzner; whatever Hetzner refuses (a removed server type,
        # an image of the other architecture, a type not sold in the location) comes back as
        # 500 "Failed to create Hetzner server." (HetznerController::createServer, catch-all).
        server_type = hetzner.server_type(str(body["server_type"]))
        image = next((i for i in hetzner.IMAGES if i["id"] == body["image"]), None)
        if (
            server_type is None
            or image is None
            or image["architecture"] != server_type["architecture"]
            or body["location"] not in {x["name"] for x in server_type["locations"]}
        ):
            return _json({"message": "Failed to create Hetzner server."}, 500)
        server_uuid = _uuid()
        ident = self._id()
        ip = f"203.0.113.{10 + ident % 240}"
        self.data["servers"][server_uuid] = {
            "id": ident,
            "uuid": server_uuid,
            "name": body.get("name") or f"hetzner-{ident}",
            "description": None,
            "ip": ip,
            "port": 22,
            "user": "root",
            "proxy_type": "traefik",
            "settings": {
                "is_reachable": bool(body.get("instant_validate")),
                "is_usable": True,
                "is_build_server": False,
            },
            "hetzner_server_id": 40_000_000 + ident,
            "_image": image["id"],
            "_server_type": server_type["name"],
        }
        self.state.save()
        return _json({"uuid": server_uuid, "hetzner_server_id": 40_000_000 + ident, "ip": ip}, 201)

    async def hetzner_catalog(self, request: Request) -> JSONResponse:
        token = request.query_params.get("cloud_provider_token_uuid") or request.query_params.get(
            "cloud_provider_token_id"
        )
        if not token:
            return _invalid(
                {"cloud_provider_token_uuid": ["The cloud provider token uuid field is required."]}
            )
        if token not in self.data["cloud_tokens"]:
            return _not_found("Cloud provider token")
        # HetznerService: every location; server types without `deprecated === true`; system
        # images of both architectures (getLocations, getServerTypes, getImages).
        kind = request.path_params["kind"]
        return _json(
            {
                "locations": hetzner.LOCATIONS,
                "server-types": [t for t in hetzner.SERVER_TYPES if t["deprecated"] is not True],
                "images": [i for i in hetzner.IMAGES if i["type"] == "system"],
            }.get(kind, [])
        )

    async def keys(self, request: Request) -> JSONResponse:
        # SecurityController::keys: `private_key` only for a token that may read secrets.
        sensitive = self.sensitive(request)
        return _json(
            [
                {k: v for k, v in key.items() if sensitive or k != "private_key"}
                for key in self.data["keys"].values()
            ]
        )

    async def version(self, request: Request) -> Response:
        # OtherController::version: the version as plain text.
        return Response(COOLIFY_VERSION, media_type="text/html; charset=UTF-8")

    async def cloud_tokens(self, request: Request) -> JSONResponse:
        return _json(list(self.data["cloud_tokens"].values()))

    # --- the deployed applications themselves -------------------------------------------
    async def app_health(self, request: Request) -> JSONResponse:
        """What `https://{domain}/health` of a deployed application would answer: 200 while an
        application serving the domain runs healthy, 503 otherwise (no DNS needed)."""
        self._advance()
        host = request.path_params["domain"].lower()
        for app in self.data["applications"].values():
            hosts = {urlparse(d).hostname for d in _split_domains(app.get("fqdn"))}
            if host in hosts:
                if app["status"] == "running:healthy":
                    return _json({"status": "ok", "application": app["uuid"]})
                return _json({"status": app["status"]}, 503)
        return _json({"message": "No application serves this domain."}, 404)

    # --- tokens and abilities -----------------------------------------------------------------
    def _abilities(self, request: Request) -> list[str]:
        """The request token's abilities (a `sandbox-` token not registered is root)."""
        _, _, token = request.headers.get("authorization", "").partition(" ")
        granted: list[str] = self.data["tokens"].get(token.strip(), ["root"])
        return granted

    def refusal(self, request: Request, needs: dict[str, str]) -> JSONResponse | None:
        """ApiAbility: a token without the route's ability (and without `root`) gets 403
        "Missing required permissions: <ability>" before the controller validates anything."""
        granted = self._abilities(request)
        need = needs.get(request.method)
        if need and "root" not in granted and need not in granted:
            return _json({"message": f"Missing required permissions: {need}"}, 403)
        return None

    def sensitive(self, request: Request) -> bool:
        """ApiSensitiveData: `root` or `read:sensitive` may read secrets (env values)."""
        granted = self._abilities(request)
        return "root" in granted or "read:sensitive" in granted

    def env_view(self, env: dict[str, Any], request: Request) -> dict[str, Any]:
        """`value` and `real_value` are EnvironmentVariable::$hidden; only a token that may read
        secrets gets them (ApplicationsController::removeSensitiveData)."""
        view = self._public(env)
        if not self.sensitive(request) or env.get("is_shown_once"):
            view.pop("value", None)
            view.pop("real_value", None)
        return view

    def control_tokens(self, method: str, body: Any) -> Any:
        """`POST {"token", "abilities": [...]}`: a token with only these abilities."""
        tokens: dict[str, list[str]] = self.data["tokens"]
        if method == "POST" and isinstance(body, dict) and isinstance(body.get("token"), str):
            tokens[body["token"]] = [str(a) for a in body.get("abilities") or []]
            self.state.save()
        return {"tokens": tokens}

    # --- control --------------------------------------------------------------------------------
    def control_deployments(self, method: str, body: Any) -> Any:
        switches = self.data["switches"]
        if method == "POST" and isinstance(body, dict):
            for key in ("fail", "queue_seconds", "build_seconds", "delete_seconds"):
                if key in body:
                    switches[key] = body[key]
            self.state.save()
        self._advance()
        return {
            "switches": switches,
            "deployments": [
                {
                    "deployment_uuid": d["deployment_uuid"],
                    "application_uuid": d["_application_uuid"],
                    "status": d["status"],
                    "queued_at": d["_queued"],
                    "started_at": d.get("_started"),
                    "finished_at": d.get("_finished"),
                }
                for d in self.data["deployments"].values()
            ],
        }


def _split_domains(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    return [part.strip() for part in str(value).split(",") if part.strip()]


async def _body(request: Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _error_body(status: int, code: str, message: str) -> dict[str, Any]:
    if status == 401:
        return {"message": "Unauthenticated."}
    if status == 429:
        return {"message": "Too Many Attempts."}
    return {"message": "Server Error" if status >= 500 else message}


PROFILE = SandboxProfile(
    name="coolify",
    error_body=_error_body,
    rate_limit=200,
    rate_window=60.0,
    # Laravel's throttle (RouteServiceProvider, `API_RATE_LIMIT` 200/min): X-RateLimit-Limit and
    # -Remaining on every answer, Retry-After and X-RateLimit-Reset on a 429.
    style=RateLimitStyle(
        limit="X-RateLimit-Limit",
        remaining="X-RateLimit-Remaining",
        reset="X-RateLimit-Reset",
        reset_on_429_only=True,
    ),
    unauthorized_message="Unauthenticated.",
    rate_limited_message="Too Many Attempts.",
    public_paths=("/__app__/",),
)


class _AbilityGuard:
    """The abilities of routes/api.php, checked before the body is (as Laravel's middleware
    runs before the controller's validation)."""

    def __init__(
        self,
        app: ASGIApp,
        sandbox: CoolifySandbox,
        routes: list[tuple[re.Pattern[str], dict[str, str]]],
    ) -> None:
        self.app = app
        self.sandbox = sandbox
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for pattern, needs in self.routes:
                if pattern.match(scope["path"]):
                    refusal = self.sandbox.refusal(Request(scope), needs)
                    if refusal is not None:
                        await refusal(scope, receive, send)
                        return
                    break
        await self.app(scope, receive, send)


R, W, D = "read", "write", "deploy"


def create_app(state_dir: Path | None) -> ASGIApp:
    sandbox = CoolifySandbox(state_dir)
    prefix = "/api/v1"
    # Every route with the ability routes/api.php asks for (`api.ability:<ability>`).
    table: list[tuple[str, Any, dict[str, str]]] = [
        ("/projects", sandbox.projects, {"GET": R, "POST": W}),
        ("/projects/{uuid}", sandbox.project, {"GET": R, "PATCH": W, "DELETE": W}),
        ("/projects/{uuid}/environments", sandbox.environments, {"GET": R}),
        ("/applications", sandbox.applications, {"GET": R}),
        ("/applications/public", sandbox.create_public, {"POST": W}),
        ("/applications/{uuid}", sandbox.application, {"GET": R, "PATCH": W, "DELETE": W}),
        ("/applications/{uuid}/envs", sandbox.envs, {"GET": R, "POST": W, "PATCH": W}),
        ("/applications/{uuid}/envs/bulk", sandbox.envs_bulk, {"PATCH": W}),
        ("/applications/{uuid}/envs/{env_uuid}", sandbox.env_delete, {"DELETE": W}),
        ("/applications/{uuid}/{action:str}", sandbox.lifecycle, {"GET": D, "POST": D}),
        ("/deployments", sandbox.deployments, {"GET": R}),
        ("/deployments/applications/{uuid}", sandbox.app_deployments, {"GET": R}),
        ("/deployments/{uuid}", sandbox.deployment, {"GET": R}),
        ("/servers", sandbox.servers, {"GET": R}),
        ("/servers/hetzner", sandbox.hetzner_server, {"POST": W}),
        ("/servers/{uuid}", sandbox.server, {"GET": R}),
        ("/hetzner/{kind}", sandbox.hetzner_catalog, {"GET": R}),
        ("/security/keys", sandbox.keys, {"GET": R}),
        ("/version", sandbox.version, {"GET": R}),
        ("/cloud-tokens", sandbox.cloud_tokens, {"GET": R}),
    ]
    routes = [
        Route(f"{prefix}{path}", handler, methods=list(needs)) for path, handler, needs in table
    ]
    routes.append(Route("/__app__/{domain}/health", sandbox.app_health, methods=["GET"]))
    app = Starlette(routes=routes)
    checked = OpenApiCheck(
        app, spec=Spec.load(__package__ or "", prefix="/api/v1", quirks=QUIRKS), refuse=_refuse
    )
    guarded = _AbilityGuard(
        checked, sandbox, [(compile_path(f"{prefix}{p}")[0], n) for p, _, n in table]
    )
    middleware = SandboxMiddleware(
        guarded,
        profile=PROFILE,
        state=sandbox.state,
        sandbox=sandbox,
        controls={"deployments": sandbox.control_deployments, "tokens": sandbox.control_tokens},
    )
    return middleware

"""The DigitalOcean sandbox: `/v2` droplets and droplet actions, sizes, regions, images, 1-Click
apps, SSH keys and the account, in the shapes of the DigitalOcean OpenAPI spec (what `pydo` uses).

Droplets start `new` and become `active` after `provision_delay` seconds with public IPv4 (and
IPv6 when asked); droplet actions go `in-progress` → `completed` over `action_delay` seconds.
Errors are `{"id", "message", "request_id"}`; rate-limit headers are `ratelimit-*`.
"""

from __future__ import annotations

import math
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stellwerk.provider.compute.sandbox_common import (
    DEFAULT_ACTION_DELAY,
    DEFAULT_PROVISION_DELAY,
    ComputeSandbox,
    body_of,
    int_param,
    ipv4_for,
    ipv6_for,
    iso,
    now,
    reply,
)
from stellwerk.provider.sandbox.kit import (
    JsonState,
    RateLimitStyle,
    SandboxMiddleware,
    SandboxProfile,
)
from stellwerk.provider.sandbox.openapi import OpenApiCheck, Problem, Spec

CREATED = "2024-01-01T00:00:00Z"
REGION_SLUGS = ["nyc1", "nyc3", "sfo3", "ams3", "fra1", "lon1"]
FEATURES = ["private_networking", "backups", "ipv6", "metadata", "install_agent", "storage"]


def _size(
    slug: str,
    memory: int,
    vcpus: int,
    disk: int,
    transfer: float,
    monthly: float,
    hourly: float,
    description: str,
) -> dict[str, Any]:
    return {
        "slug": slug,
        "memory": memory,
        "vcpus": vcpus,
        "disk": disk,
        "transfer": transfer,
        "price_monthly": monthly,
        "price_hourly": hourly,
        "regions": list(REGION_SLUGS),
        "available": True,
        "description": description,
        "disk_info": [{"type": "local", "size": {"amount": disk, "unit": "gib"}}],
    }


SIZES: list[dict[str, Any]] = [
    _size("s-1vcpu-512mb-10gb", 512, 1, 10, 0.5, 4.0, 0.00595, "Basic"),
    _size("s-1vcpu-1gb", 1024, 1, 25, 1.0, 6.0, 0.00893, "Basic"),
    _size("s-1vcpu-2gb", 2048, 1, 50, 2.0, 12.0, 0.01786, "Basic"),
    _size("s-2vcpu-2gb", 2048, 2, 60, 3.0, 18.0, 0.02679, "Basic"),
    _size("s-2vcpu-4gb", 4096, 2, 80, 4.0, 24.0, 0.03571, "Basic"),
]

REGIONS: list[dict[str, Any]] = [
    {
        "name": name,
        "slug": slug,
        "features": list(FEATURES),
        "available": True,
        "sizes": [s["slug"] for s in SIZES],
    }
    for slug, name in [
        ("nyc1", "New York 1"),
        ("nyc3", "New York 3"),
        ("sfo3", "San Francisco 3"),
        ("ams3", "Amsterdam 3"),
        ("fra1", "Frankfurt 1"),
        ("lon1", "London 1"),
    ]
]


def _image(
    image_id: int,
    name: str,
    slug: str,
    distribution: str,
    kind: str,
    description: str,
    min_disk: int = 15,
) -> dict[str, Any]:
    return {
        "id": image_id,
        "name": name,
        "distribution": distribution,
        "slug": slug,
        "public": True,
        "regions": list(REGION_SLUGS),
        "created_at": CREATED,
        "type": "base" if kind == "distribution" else "snapshot",
        "min_disk_size": min_disk,
        "size_gigabytes": 2.36,
        "description": description,
        "tags": [],
        "status": "available",
        "error_message": "",
        "_kind": kind,
    }


IMAGES: list[dict[str, Any]] = [
    _image(
        123456, "22.04 (LTS) x64", "ubuntu-22-04-x64", "Ubuntu", "distribution", "Ubuntu 22.04 LTS"
    ),
    _image(
        123455, "20.04 (LTS) x64", "ubuntu-20-04-x64", "Ubuntu", "distribution", "Ubuntu 20.04 LTS"
    ),
    _image(
        123458, "24.04 (LTS) x64", "ubuntu-24-04-x64", "Ubuntu", "distribution", "Ubuntu 24.04 LTS"
    ),
    _image(123457, "11 x64", "debian-11-x64", "Debian", "distribution", "Debian 11"),
    _image(123459, "12 x64", "debian-12-x64", "Debian", "distribution", "Debian 12"),
    _image(
        223456,
        "WordPress 6.4 on Ubuntu 20.04",
        "wordpress-20-04",
        "Ubuntu",
        "application",
        "WordPress is a popular content management system",
        25,
    ),
    _image(
        223457,
        "Docker 24.0 on Ubuntu 20.04",
        "docker-20-04",
        "Ubuntu",
        "application",
        "Docker container platform",
        25,
    ),
    _image(
        223458,
        "LAMP on Ubuntu 22.04",
        "lamp-22-04",
        "Ubuntu",
        "application",
        "Linux, Apache, MySQL and PHP",
        25,
    ),
]

ONE_CLICKS: list[dict[str, str]] = [
    {"slug": "wordpress-20-04", "type": "droplet"},
    {"slug": "docker-20-04", "type": "droplet"},
    {"slug": "lamp-22-04", "type": "droplet"},
    {"slug": "monitoring", "type": "kubernetes"},
]

SSH_KEYS: list[dict[str, Any]] = [
    {
        "id": 12345,
        "fingerprint": "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa",
        "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyNumberOne admin@example.com",
        "name": "admin laptop",
    },
    {
        "id": 67890,
        "fingerprint": "6d:77:4b:e0:5d:5b:4a:1a:2c:49:ad:6b:2d:85:9d:7c",
        "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyNumberTwo deploy@example.com",
        "name": "deploy key",
    },
]


def _public(image: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in image.items() if not k.startswith("_")}


def _initial() -> dict[str, Any]:
    return {"droplets": {}, "actions": {}}


def error(status: int, error_id: str, message: str) -> Response:
    return reply({"id": error_id, "message": message, "request_id": str(uuid.uuid4())}, status)


def _refuse(problems: list[Problem]) -> Response:
    """A body the spec refuses: 422 `unprocessable_entity` (digitalocean.yaml, `error`)."""
    return error(
        422, "unprocessable_entity", "; ".join(f"{p.field}: {p.message}" for p in problems)
    )


def _page(request: Request, key: str, items: list[dict[str, Any]]) -> Response:
    # `page` from 1, `per_page` 20 unless asked, at most 200 (digitalocean.yaml, `per_page`).
    page = int_param(request, "page", 1, low=1, high=1_000_000)
    per_page = int_param(request, "per_page", 20, low=1, high=200)
    if page is None or per_page is None:
        return error(400, "bad_request", "invalid pagination parameters")
    total = len(items)
    last = max(1, math.ceil(total / per_page))
    base = str(request.url.replace(query=""))
    params = {k: v for k, v in request.query_params.items() if k not in ("page", "per_page")}

    def link(number: int) -> str:
        return f"{base}?{urlencode({**params, 'page': number, 'per_page': per_page})}"

    pages: dict[str, str] = {}
    if page > 1:
        pages["first"] = link(1)
        pages["prev"] = link(page - 1)
    if page < last:
        pages["next"] = link(page + 1)
        pages["last"] = link(last)
    return reply(
        {
            key: items[(page - 1) * per_page : page * per_page],
            "links": {"pages": pages} if pages else {},
            "meta": {"total": total},
        }
    )


class DigitalOceanSandbox(ComputeSandbox):
    @property
    def droplets(self) -> dict[str, dict[str, Any]]:
        return self.table("droplets")

    @property
    def actions(self) -> dict[str, dict[str, Any]]:
        return self.table("actions")

    def _new_action(self, kind: str, droplet: dict[str, Any], duration: float) -> dict[str, Any]:
        action_id = self.state.next_id("action", 36804636)
        action = {
            "id": action_id,
            "type": kind,
            "started": now(),
            "duration": duration,
            "droplet_id": droplet["id"],
            "region": droplet["region"],
        }
        self.actions[str(action_id)] = action
        return action

    def _action_view(self, action: dict[str, Any]) -> dict[str, Any]:
        done = now() >= action["started"] + action["duration"]
        region = next(r for r in REGIONS if r["slug"] == action["region"])
        return {
            "id": action["id"],
            "status": "completed" if done else "in-progress",
            "type": action["type"],
            "started_at": iso(action["started"]),
            "completed_at": iso(action["started"] + action["duration"]) if done else None,
            "resource_id": action["droplet_id"],
            "resource_type": "droplet",
            "region": region,
            "region_slug": region["slug"],
        }

    def _view(self, droplet: dict[str, Any]) -> dict[str, Any]:
        self.settle(droplet)
        droplet_id = droplet["id"]
        size = next(s for s in SIZES if s["slug"] == droplet["size"])
        image = next(i for i in IMAGES if i["slug"] == droplet["image"])
        region = next(r for r in REGIONS if r["slug"] == droplet["region"])
        active = droplet["status"] != "new"
        v4 = (
            [
                {
                    "ip_address": ipv4_for(droplet_id),
                    "netmask": "255.255.255.0",
                    "gateway": "203.0.113.1",
                    "type": "public",
                },
                {
                    "ip_address": f"10.10.0.{droplet_id % 250 + 2}",
                    "netmask": "255.255.0.0",
                    "gateway": "10.10.0.1",
                    "type": "private",
                },
            ]
            if active
            else []
        )
        v6 = (
            [
                {
                    "ip_address": ipv6_for(droplet_id),
                    "netmask": 64,
                    "gateway": "2001:db8::1",
                    "type": "public",
                }
            ]
            if active and droplet["ipv6"]
            else []
        )
        features = ["private_networking"]
        if droplet["ipv6"]:
            features.append("ipv6")
        if droplet["monitoring"]:
            features.append("monitoring")
        if droplet["backups"]:
            features.append("backups")
        return {
            "id": droplet_id,
            "name": droplet["name"],
            "memory": size["memory"],
            "vcpus": size["vcpus"],
            "disk": size["disk"],
            "disk_info": size["disk_info"],
            "locked": False,
            "status": droplet["status"],
            "kernel": None,
            "created_at": iso(droplet["created"]),
            "features": features,
            "backup_ids": [],
            "next_backup_window": {"start": CREATED, "end": CREATED}
            if droplet["backups"]
            else None,
            "snapshot_ids": [],
            "image": _public(image),
            "volume_ids": [],
            "size": size,
            "size_slug": size["slug"],
            "networks": {"v4": v4, "v6": v6},
            "region": region,
            "tags": droplet["tags"],
            "vpc_uuid": droplet["vpc_uuid"],
        }

    def _find(self, request: Request) -> dict[str, Any] | None:
        return self.droplets.get(str(request.path_params["id"]))

    async def account(self, request: Request) -> Response:
        return reply(
            {
                "account": {
                    "droplet_limit": 25,
                    "floating_ip_limit": 5,
                    "volume_limit": 10,
                    "email": "sandbox@example.com",
                    "name": "Sandbox",
                    "uuid": "b6fr89dbf6d9156cace5f3c78dc9851d957381ef",
                    "email_verified": True,
                    "status": "active",
                    "status_message": "",
                }
            }
        )

    async def list_keys(self, request: Request) -> Response:
        return _page(request, "ssh_keys", SSH_KEYS)

    async def list_sizes(self, request: Request) -> Response:
        return _page(request, "sizes", SIZES)

    async def list_regions(self, request: Request) -> Response:
        return _page(request, "regions", REGIONS)

    async def list_images(self, request: Request) -> Response:
        kind = request.query_params.get("type")
        # `type` is `application` or `distribution` (digitalocean.yaml, images_list `type`).
        if kind not in (None, "distribution", "application"):
            return error(400, "bad_request", "type must be distribution or application")
        private = request.query_params.get("private") == "true"
        items = [
            _public(i)
            for i in IMAGES
            if (kind is None or i["_kind"] == kind) and not (private and i["public"])
        ]
        return _page(request, "images", items)

    async def get_image(self, request: Request) -> Response:
        ref = request.path_params["id"]
        for image in IMAGES:
            if ref in (str(image["id"]), image["slug"]):
                return reply({"image": _public(image)})
        return error(404, "not_found", "The resource you requested could not be found.")

    async def list_one_clicks(self, request: Request) -> Response:
        kind = request.query_params.get("type")
        return reply({"1_clicks": [c for c in ONE_CLICKS if kind in (None, c["type"])]})

    async def list_droplets(self, request: Request) -> Response:
        tag = request.query_params.get("tag_name")
        name = request.query_params.get("name")
        items = [
            self._view(d)
            for d in sorted(self.droplets.values(), key=lambda d: int(d["id"]))
            if (tag is None or tag in d["tags"]) and name in (None, d["name"])
        ]
        self.state.save()
        return _page(request, "droplets", items)

    async def create_droplet(self, request: Request) -> Response:
        body = await body_of(request)
        if body is None:
            return error(400, "bad_request", "Request body must be a JSON object")
        # `name`, `size` and `image` are required (digitalocean.yaml droplet_single_create; the
        # words for unknown ones are pydo's mocked answers, tests/mocked/test_droplets.py).
        name = body.get("name")
        if not isinstance(name, str) or not name:
            return error(422, "unprocessable_entity", "Name is required")
        size = body.get("size")
        if not any(s["slug"] == size for s in SIZES):
            return error(
                422, "unprocessable_entity", "You specified an invalid size for Droplet creation."
            )
        image_ref = str(body.get("image", ""))
        image = next((i for i in IMAGES if image_ref in (i["slug"], str(i["id"]))), None)
        if image is None:
            return error(
                422, "unprocessable_entity", "You specified an invalid image for Droplet creation."
            )
        region = body.get("region") or "nyc3"
        if not any(r["slug"] == region for r in REGIONS):
            return error(
                422, "unprocessable_entity", "You specified an invalid region for Droplet creation."
            )
        # `ssh_keys` are ids or fingerprints of the account's keys (droplet_create `ssh_keys`).
        keys = body.get("ssh_keys") or []
        known = {str(k["id"]) for k in SSH_KEYS} | {k["fingerprint"] for k in SSH_KEYS}
        for key in keys:
            if str(key) not in known:
                return error(422, "unprocessable_entity", "You specified an invalid SSH key.")
        tags = body.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            return error(422, "unprocessable_entity", "tags must be a list of strings")
        # The account's `droplet_limit` (25 here, `GET /v2/account`); the API's words.
        if len(self.droplets) >= 25:
            return error(
                422,
                "unprocessable_entity",
                "creating this/these droplet(s) will exceed your droplet limit",
            )
        droplet_id = self.state.next_id("droplet", 3164444)
        droplet = {
            "id": droplet_id,
            "name": name,
            "size": size,
            "image": image["slug"],
            "region": region,
            "tags": tags,
            "ipv6": bool(body.get("ipv6")),
            "monitoring": bool(body.get("monitoring")),
            "backups": bool(body.get("backups")),
            "vpc_uuid": body.get("vpc_uuid") or "760e09ef-dc84-11e8-981e-3cfdfeaae000",
            "status": "new",
            "transition": {"to": "active", "at": now() + self.provision_delay},
            "created": now(),
        }
        self.droplets[str(droplet_id)] = droplet
        action = self._new_action("create", droplet, self.provision_delay)
        self.state.save()
        href = str(request.url_for("get_action", id=action["id"]))
        return reply(
            {
                "droplet": self._view(droplet),
                "links": {"actions": [{"id": action["id"], "rel": "create", "href": href}]},
            },
            202,
        )

    async def get_droplet(self, request: Request) -> Response:
        droplet = self._find(request)
        if droplet is None:
            return error(404, "not_found", "The resource you requested could not be found.")
        view = self._view(droplet)
        self.state.save()
        return reply({"droplet": view})

    async def delete_droplet(self, request: Request) -> Response:
        droplet = self._find(request)
        if droplet is None:
            return error(404, "not_found", "The resource you requested could not be found.")
        del self.droplets[str(droplet["id"])]
        self.state.save()
        return Response(status_code=204, media_type="application/json")

    async def droplet_action(self, request: Request) -> Response:
        droplet = self._find(request)
        if droplet is None:
            return error(404, "not_found", "The resource you requested could not be found.")
        body = await body_of(request)
        if body is None:
            return error(400, "bad_request", "Request body must be a JSON object")
        self.settle(droplet)
        kind = body.get("type")
        transitions = {
            "power_on": "active",
            "power_off": "off",
            "shutdown": "off",
            "reboot": "active",
            "power_cycle": "active",
        }
        # droplet_actions `type` enum (digitalocean.yaml); one event at a time per droplet.
        if kind not in transitions:
            return error(422, "unprocessable_entity", f"Action type '{kind}' is not valid")
        if droplet["status"] == "new":
            return error(422, "unprocessable_entity", "Droplet already has a pending event.")
        droplet["transition"] = {"to": transitions[kind], "at": now() + self.action_delay}
        action = self._new_action(kind, droplet, self.action_delay)
        self.state.save()
        return reply({"action": self._action_view(action)}, 201)

    async def get_action(self, request: Request) -> Response:
        action = self.actions.get(str(request.path_params["id"]))
        if action is None:
            return error(404, "not_found", "The resource you requested could not be found.")
        return reply({"action": self._action_view(action)})

    async def get_droplet_action(self, request: Request) -> Response:
        action = self.actions.get(str(request.path_params["action_id"]))
        if action is None or str(action["droplet_id"]) != str(request.path_params["id"]):
            return error(404, "not_found", "The resource you requested could not be found.")
        return reply({"action": self._action_view(action)})


def create_app(
    state_dir: Path | None = None,
    *,
    provision_delay: float = DEFAULT_PROVISION_DELAY,
    action_delay: float = DEFAULT_ACTION_DELAY,
    rate_limit: int = 5000,
    rate_window: float = 3600.0,
) -> SandboxMiddleware:
    state = JsonState(None if state_dir is None else state_dir / "digitalocean.json", _initial)
    s = DigitalOceanSandbox(state, provision_delay=provision_delay, action_delay=action_delay)
    routes = [
        Route("/v2/account", s.account),
        Route("/v2/account/keys", s.list_keys),
        Route("/v2/sizes", s.list_sizes),
        Route("/v2/regions", s.list_regions),
        Route("/v2/images", s.list_images),
        Route("/v2/images/{id}", s.get_image),
        Route("/v2/1-clicks", s.list_one_clicks),
        Route("/v2/droplets", s.list_droplets, methods=["GET"]),
        Route("/v2/droplets", s.create_droplet, methods=["POST"]),
        Route("/v2/droplets/{id:int}", s.get_droplet, methods=["GET"]),
        Route("/v2/droplets/{id:int}", s.delete_droplet, methods=["DELETE"]),
        Route("/v2/droplets/{id:int}/actions", s.droplet_action, methods=["POST"]),
        Route("/v2/droplets/{id:int}/actions/{action_id:int}", s.get_droplet_action),
        Route("/v2/actions/{id:int}", s.get_action, name="get_action"),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return error(404, "not_found", "The resource you requested could not be found.")

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.state.sandbox = s
    profile = SandboxProfile(
        name="digitalocean",
        error_body=lambda status, code, message: {
            "id": code,
            "message": message,
            "request_id": str(uuid.uuid4()),
        },
        rate_limit=rate_limit,
        rate_window=rate_window,
        style=RateLimitStyle(
            limit="ratelimit-limit", remaining="ratelimit-remaining", reset="ratelimit-reset"
        ),
        unauthorized_code="unauthorized",
        unauthorized_message="Unable to authenticate you.",
        rate_limited_code="too_many_requests",
        rate_limited_message="API rate limit exceeded.",
    )
    spec = Spec.load(__package__ or "", prefix="")
    checked = OpenApiCheck(app, spec=spec, refuse=_refuse)
    return SandboxMiddleware(checked, profile=profile, state=state, sandbox=s)

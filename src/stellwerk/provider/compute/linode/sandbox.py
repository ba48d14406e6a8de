"""The Linode sandbox: `/v4` instances, types, regions, images, StackScripts, profile and
account events, in the shapes `linode_api4` and its test fixtures use.

Instances start `provisioning` and run after `provision_delay` seconds with public IPv4 and
SLAAC IPv6 addresses; boot, shutdown and reboot pass through `booting`, `shutting_down` and
`rebooting` for `action_delay` seconds. Errors are `{"errors": [{"reason", "field"}]}`.
"""

from __future__ import annotations

import base64
import json
import math
import secrets
from pathlib import Path
from typing import Any

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
from stellwerk.provider.registry import LINODE_LABEL
from stellwerk.provider.sandbox.kit import (
    JsonState,
    RateLimitStyle,
    SandboxMiddleware,
    SandboxProfile,
)

CREATED = "2024-01-01T00:00:00"


def _type(
    type_id: str,
    label: str,
    klass: str,
    vcpus: int,
    memory: int,
    disk: int,
    transfer: int,
    hourly: float,
    monthly: float,
) -> dict[str, Any]:
    return {
        "id": type_id,
        "label": label,
        "class": klass,
        "vcpus": vcpus,
        "memory": memory,
        "disk": disk,
        "transfer": transfer,
        "network_out": 1000,
        "gpus": 0,
        "successor": None,
        "price": {"hourly": hourly, "monthly": monthly},
        "region_prices": [],
        "addons": {"backups": {"price": {"hourly": 0.003, "monthly": 2.0}, "region_prices": []}},
    }


TYPES: list[dict[str, Any]] = [
    _type("g6-nanode-1", "Nanode 1GB", "nanode", 1, 1024, 25600, 1000, 0.0075, 5.0),
    _type("g6-standard-1", "Linode 2GB", "standard", 1, 2048, 51200, 2000, 0.018, 12.0),
    _type("g6-standard-2", "Linode 4GB", "standard", 2, 4096, 81920, 4000, 0.036, 24.0),
    _type("g6-dedicated-2", "Dedicated 4GB", "dedicated", 2, 4096, 81920, 4000, 0.054, 36.0),
]


def _region(region_id: str, label: str, country: str) -> dict[str, Any]:
    return {
        "id": region_id,
        "label": label,
        "country": country,
        "capabilities": [
            "Linodes",
            "Backups",
            "NodeBalancers",
            "Block Storage",
            "Cloud Firewall",
            "Metadata",
        ],
        "status": "ok",
        "resolvers": {"ipv4": "192.0.2.53,192.0.2.54", "ipv6": "2001:db8::53,2001:db8::54"},
        "placement_group_limits": {
            "maximum_pgs_per_customer": None,
            "maximum_linodes_per_pg": 5,
        },
        "site_type": "core",
    }


REGIONS: list[dict[str, Any]] = [
    _region("us-east", "Newark, NJ", "us"),
    _region("us-west", "Fremont, CA", "us"),
    _region("eu-central", "Frankfurt, DE", "de"),
    _region("eu-west", "London, UK", "gb"),
    _region("ap-south", "Singapore, SG", "sg"),
]


def _image(image_id: str, label: str, vendor: str, size: int = 2500) -> dict[str, Any]:
    return {
        "id": image_id,
        "label": label,
        "description": "",
        "created": CREATED,
        "created_by": "linode",
        "deprecated": False,
        "is_public": True,
        "size": size,
        "type": "manual",
        "vendor": vendor,
        "expiry": None,
        "eol": None,
        "updated": CREATED,
        "status": "available",
        "capabilities": ["cloud-init"],
        "tags": [],
        "total_size": size,
        "regions": [],
    }


IMAGES: list[dict[str, Any]] = [
    _image("linode/ubuntu22.04", "Ubuntu 22.04 LTS", "Ubuntu"),
    _image("linode/ubuntu24.04", "Ubuntu 24.04 LTS", "Ubuntu"),
    _image("linode/debian12", "Debian 12", "Debian"),
    _image("linode/debian11", "Debian 11", "Debian"),
    _image("linode/almalinux9", "AlmaLinux 9", "AlmaLinux"),
]

STACKSCRIPTS: list[dict[str, Any]] = [
    {
        "id": 12345,
        "label": "hostname-setup",
        "description": "Sets the hostname and installs updates",
        "images": ["linode/ubuntu22.04", "linode/ubuntu24.04", "linode/debian12"],
        "is_public": True,
        "mine": True,
        "rev_note": "Initial import",
        "script": (
            '#!/bin/bash\n# <UDF name="hostname" label="Hostname" />\n'
            'hostnamectl set-hostname "$HOSTNAME"\n'
        ),
        "user_defined_fields": [
            {"name": "hostname", "label": "Hostname", "example": "myserver", "default": None}
        ],
        "deployments_active": 1,
        "deployments_total": 12,
        "created": CREATED,
        "updated": CREATED,
        "user_gravatar_id": "a445b305abda30ebc766bc7fda037c37",
        "username": "stellwerk",
    },
    {
        "id": 10079,
        "label": "mysql",
        "description": "This StackScript installs and configures MySQL",
        "images": ["linode/debian12", "linode/debian11"],
        "is_public": True,
        "mine": False,
        "rev_note": "Set up MySQL",
        "script": "#!/bin/bash\n",
        "user_defined_fields": [
            {"name": "DB_PASSWORD", "label": "Enter the password", "example": "hunter2"}
        ],
        "deployments_active": 1,
        "deployments_total": 12,
        "created": CREATED,
        "updated": CREATED,
        "user_gravatar_id": "a445b305abda30ebc766bc7fda037c37",
        "username": "linode",
    },
]


def _initial() -> dict[str, Any]:
    return {"instances": {}, "events": []}


def errors(status: int, reason: str, field: str | None = None) -> Response:
    entry: dict[str, Any] = {"reason": reason}
    if field is not None:
        entry["field"] = field
    return reply({"errors": [entry]}, status)


def _matches(item: dict[str, Any], condition: Any) -> bool:
    """The subset of X-Filter this sandbox understands: field equality, +and/+or, +contains."""
    if not isinstance(condition, dict):
        return True
    for key, expected in condition.items():
        if key == "+and":
            if not all(_matches(item, c) for c in expected):
                return False
        elif key == "+or":
            if not any(_matches(item, c) for c in expected):
                return False
        elif key.startswith("+"):
            continue  # +order_by, +order
        else:
            actual = item.get(key)
            if isinstance(expected, dict):
                if "+contains" in expected and expected["+contains"] not in (actual or ""):
                    return False
                if "+neq" in expected and actual == expected["+neq"]:
                    return False
            elif isinstance(actual, list):
                if expected not in actual:
                    return False
            elif actual != expected:
                return False
    return True


def _page(request: Request, items: list[dict[str, Any]]) -> Response:
    # Pages from 1, `page_size` 25-500, 100 unless asked (techdocs.akamai.com, "Pagination").
    page = int_param(request, "page", 1, low=1, high=1_000_000)
    page_size = int_param(request, "page_size", 100, low=25, high=500)
    if page is None:
        return errors(400, "Must be an integer >= 1", "page")
    if page_size is None:
        return errors(400, "Must be a value between 25 and 500", "page_size")
    raw_filter = request.headers.get("x-filter")
    if raw_filter:
        # X-Filter is a JSON object (techdocs.akamai.com, "Filtering and sorting").
        try:
            condition = json.loads(raw_filter)
        except ValueError:
            return errors(400, "Invalid X-Filter", "X-Filter")
        items = [i for i in items if _matches(i, condition)]
    total = len(items)
    pages = max(1, math.ceil(total / page_size))
    return reply(
        {
            "data": items[(page - 1) * page_size : page * page_size],
            "page": page,
            "pages": pages,
            "results": total,
        }
    )


def _strong(password: Any) -> bool:
    """root_pass: 7-128 characters from at least two of lower case, upper case, digits and
    punctuation (linode/linode-api-docs#216)."""
    if not isinstance(password, str) or not 7 <= len(password) <= 128:
        return False
    classes = (str.islower, str.isupper, str.isdigit, lambda c: not c.isalnum())
    return sum(any(test(c) for c in password) for test in classes) >= 2


class LinodeSandbox(ComputeSandbox):
    @property
    def instances(self) -> dict[str, dict[str, Any]]:
        return self.table("instances")

    def _event(
        self, action: str, instance: dict[str, Any], duration: float, *, queued: float = 0.0
    ) -> None:
        event_id = self.state.next_id("event", 100)
        self.state.data["events"].append(
            {
                "id": event_id,
                "action": action,
                "entity_id": instance["id"],
                "entity_label": instance["label"],
                "created": now(),
                "started": now() + queued,
                "duration": duration,
            }
        )
        del self.state.data["events"][:-500]

    def _event_view(self, event: dict[str, Any]) -> dict[str, Any]:
        done = now() >= event["started"] + event["duration"]
        # Linode events go scheduled → started → finished (techdocs "Event", `status`).
        status = "finished" if done else "started" if now() >= event["started"] else "scheduled"
        return {
            "id": event["id"],
            "action": event["action"],
            "created": iso(event.get("created", event["started"]), zulu=False),
            "entity": {
                "id": event["entity_id"],
                "label": event["entity_label"],
                "type": "linode",
                "url": f"/v4/linode/instances/{event['entity_id']}",
            },
            "secondary_entity": None,
            "percent_complete": 100 if done else 50,
            "rate": None,
            "read": False,
            "seen": False,
            "status": status,
            "time_remaining": None,
            "username": "stellwerk",
            "message": None,
            "duration": event["duration"] if done else None,
        }

    def _view(self, instance: dict[str, Any]) -> dict[str, Any]:
        self.settle(instance)
        instance_id = instance["id"]
        plan = next(t for t in TYPES if t["id"] == instance["type"])
        return {
            "id": instance_id,
            "label": instance["label"],
            "group": "",
            "status": instance["status"],
            "type": instance["type"],
            "region": instance["region"],
            "image": instance["image"],
            "ipv4": [ipv4_for(instance_id)],
            "ipv6": f"{ipv6_for(instance_id)}/128",
            "created": iso(instance["created"], zulu=False),
            "updated": iso(instance["created"], zulu=False),
            "hypervisor": "kvm",
            "specs": {
                "vcpus": plan["vcpus"],
                "memory": plan["memory"],
                "disk": plan["disk"],
                "transfer": plan["transfer"],
                "gpus": 0,
            },
            "alerts": {
                "cpu": 90,
                "io": 10000,
                "network_in": 10,
                "network_out": 10,
                "transfer_quota": 80,
            },
            "backups": {
                "enabled": instance["backups"],
                "available": False,
                "schedule": {"day": None, "window": None},
                "last_successful": None,
            },
            "tags": instance["tags"],
            "host_uuid": "3a3ddd59d9a78bb8de041391075df44de62bfec8",
            "watchdog_enabled": True,
            "disk_encryption": "disabled",
            "lke_cluster_id": None,
            "placement_group": None,
            "has_user_data": instance.get("user_data") is not None,
            "maintenance_policy": "linode/migrate",
        }

    def _find(self, request: Request) -> dict[str, Any] | None:
        return self.instances.get(str(request.path_params["id"]))

    async def list_types(self, request: Request) -> Response:
        return _page(request, TYPES)

    async def get_type(self, request: Request) -> Response:
        for item in TYPES:
            if item["id"] == request.path_params["id"]:
                return reply(item)
        return errors(404, "Not found")

    async def list_regions(self, request: Request) -> Response:
        return _page(request, REGIONS)

    async def get_region(self, request: Request) -> Response:
        for item in REGIONS:
            if item["id"] == request.path_params["id"]:
                return reply(item)
        return errors(404, "Not found")

    async def list_images(self, request: Request) -> Response:
        return _page(request, IMAGES)

    async def get_image(self, request: Request) -> Response:
        for item in IMAGES:
            if item["id"] == request.path_params["id"]:
                return reply(item)
        return errors(404, "Not found")

    async def list_stackscripts(self, request: Request) -> Response:
        return _page(request, STACKSCRIPTS)

    async def get_stackscript(self, request: Request) -> Response:
        for item in STACKSCRIPTS:
            if str(item["id"]) == request.path_params["id"]:
                return reply(item)
        return errors(404, "Not found")

    async def profile(self, request: Request) -> Response:
        return reply(
            {
                "username": "stellwerk",
                "email": "sandbox@example.com",
                "timezone": "UTC",
                "email_notifications": False,
                "restricted": False,
                "two_factor_auth": False,
                "uid": 1234,
                "authorized_keys": [],
                "referrals": {
                    "code": "",
                    "url": "",
                    "total": 0,
                    "completed": 0,
                    "pending": 0,
                    "credit": 0,
                },
                "lish_auth_method": "keys_only",
                "authentication_type": "password",
                "verified_phone_number": None,
            }
        )

    async def list_events(self, request: Request) -> Response:
        events = [self._event_view(e) for e in reversed(self.state.data["events"])]
        flat = [
            {**e, "entity.id": e["entity"]["id"], "entity.type": e["entity"]["type"]}
            for e in events
        ]
        raw_filter = request.headers.get("x-filter")
        if raw_filter:
            try:
                condition = json.loads(raw_filter)
            except ValueError:
                return errors(400, "Invalid X-Filter", "X-Filter")
            condition = _flatten_entity(condition)
            flat = [e for e in flat if _matches(e, condition)]
        items = [{k: v for k, v in e.items() if "." not in k} for e in flat]
        return reply({"data": items[:100], "page": 1, "pages": 1, "results": len(items)})

    async def get_event(self, request: Request) -> Response:
        for event in self.state.data["events"]:
            if str(event["id"]) == request.path_params["id"]:
                return reply(self._event_view(event))
        return errors(404, "Not found")

    async def list_instances(self, request: Request) -> Response:
        items = [self._view(i) for i in sorted(self.instances.values(), key=lambda i: int(i["id"]))]
        self.state.save()
        return _page(request, items)

    async def create_instance(self, request: Request) -> Response:
        body = await body_of(request)
        if body is None:
            return errors(400, "Request body must be a JSON object")
        # `type` and `region` are required; the API's words for unknown ones are those
        # linode_api4's tests expect (test/unit/errors_test.py: "type: A valid plan type by that
        # ID was not found; region: region is not valid").
        plan = body.get("type")
        if not plan:
            return errors(400, "type is required", "type")
        if not any(t["id"] == plan for t in TYPES):
            return errors(400, "A valid plan type by that ID was not found", "type")
        region = body.get("region")
        if not region:
            return errors(400, "region is required", "region")
        if not any(r["id"] == region for r in REGIONS):
            return errors(400, "region is not valid", "region")
        image = body.get("image")
        if image is not None and not any(i["id"] == image for i in IMAGES):
            return errors(400, "Not a valid image", "image")
        root_pass = body.get("root_pass")
        # An image needs `root_pass` or `authorized_keys` (techdocs "Create a Linode").
        if image is not None and not (root_pass or body.get("authorized_keys")):
            return errors(400, "root_pass is required", "root_pass")
        if root_pass is not None and not _strong(root_pass):
            return errors(400, "Password does not meet strength requirement.", "root_pass")
        stackscript_id = body.get("stackscript_id")
        # A StackScript lists the images it runs on (`images`, fixture
        # linode_stackscripts_10079.json).
        if stackscript_id is not None:
            script = next((s for s in STACKSCRIPTS if s["id"] == stackscript_id), None)
            if script is None:
                return errors(400, "StackScript not found", "stackscript_id")
            if image not in script["images"]:
                return errors(400, "Image is not compatible with this StackScript", "image")
        label = body.get("label") or f"linode{secrets.token_hex(4)}"
        # techdocs.akamai.com "Create a Linode", `label`: 3-64 characters, begins and ends with
        # a letter or digit, no two of '-', '_', '.' in a row.
        if not isinstance(label, str) or not LINODE_LABEL.accepts(label):
            return errors(
                400,
                "Label must be 3-64 letters, numbers, dashes, underscores or periods, begin and "
                "end with a letter or number, and not have two dashes, underscores or periods "
                "in a row",
                "label",
            )
        tags = body.get("tags") or []
        for index, tag in enumerate(tags):
            # The API's words (linode/terraform-provider-linode#32): tags are 3-50 characters.
            if not isinstance(tag, str) or not 3 <= len(tag) <= 50:
                return errors(
                    400, f"Tag '{tag}' must be between 3 and 50 characters", f"tags[{index}]"
                )
        metadata = body.get("metadata") or {}
        user_data = metadata.get("user_data") if isinstance(metadata, dict) else None
        if user_data is not None:
            # `metadata.user_data` is base64 (linode_api4 `build_instance_metadata`), for regions
            # with the Metadata capability (techdocs "Add user data").
            try:
                base64.b64decode(str(user_data), validate=True)
            except ValueError:
                return errors(400, "user_data must be base64 encoded", "metadata.user_data")
            if "Metadata" not in next(r for r in REGIONS if r["id"] == region)["capabilities"]:
                return errors(400, "Metadata is not available in this region", "metadata")
        # The sandbox account's instance limit (an account's limit is set by Linode; the words
        # are the sandbox's).
        if len(self.instances) >= 50:
            return errors(400, "Account limit reached: you cannot create more Linodes")
        # "Linode labels must be unique among your Linodes" (techdocs "Create a Linode").
        if any(i["label"] == label for i in self.instances.values()):
            return errors(400, "Label must be unique among your linodes", "label")
        instance_id = self.state.next_id("instance", 1000)
        tags = [str(t) for t in tags]
        booted = image is not None and body.get("booted", True) is not False
        instance = {
            "id": instance_id,
            "label": label,
            "type": plan,
            "region": region,
            "image": image,
            "tags": tags,
            "backups": bool(body.get("backups_enabled")),
            "user_data": user_data,
            "status": "provisioning",
            "transition": {
                "to": "running" if booted else "offline",
                "at": now() + self.provision_delay,
            },
            "created": now(),
        }
        self.instances[str(instance_id)] = instance
        self._event("linode_create", instance, self.provision_delay)
        if booted:
            self._event("linode_boot", instance, self.provision_delay)
        self.state.save()
        return reply(self._view(instance))

    async def get_instance(self, request: Request) -> Response:
        instance = self._find(request)
        if instance is None:
            return errors(404, "Not found")
        view = self._view(instance)
        self.state.save()
        return reply(view)

    async def delete_instance(self, request: Request) -> Response:
        instance = self._find(request)
        if instance is None:
            return errors(404, "Not found")
        del self.instances[str(instance["id"])]
        self._event("linode_delete", instance, 0)
        self.state.save()
        return reply({})

    async def instance_action(self, request: Request) -> Response:
        instance = self._find(request)
        if instance is None:
            return errors(404, "Not found")
        self.settle(instance)
        command = request.path_params["command"]
        transitions = {
            "boot": ("linode_boot", "booting", "running"),
            "shutdown": ("linode_shutdown", "shutting_down", "offline"),
            "reboot": ("linode_reboot", "rebooting", "running"),
        }
        if command not in transitions:
            return errors(404, "Not found")
        # No power job while the instance is still being built (linode_api4 polls events).
        if instance["status"] == "provisioning":
            return errors(400, "Linode busy.")
        event, during, after = transitions[command]
        # The API queues the job: the instance keeps its status until the job starts, so a
        # reboot shows `running` before `rebooting` (linode_api4's event poller waits for the
        # event, not the status).
        queued = self.action_delay / 2
        instance["transition"] = {
            "to": during,
            "at": now() + queued,
            "then": {"to": after, "at": now() + queued + self.action_delay},
        }
        self._event(event, instance, self.action_delay, queued=queued)
        self.state.save()
        return reply({})


def _flatten_entity(condition: Any) -> Any:
    if isinstance(condition, dict):
        out: dict[str, Any] = {}
        for key, value in condition.items():
            if key == "entity" and isinstance(value, dict):
                for inner, inner_value in value.items():
                    out[f"entity.{inner}"] = inner_value
            elif key in ("+and", "+or"):
                out[key] = [_flatten_entity(v) for v in value]
            else:
                out[key] = value
        return out
    return condition


def create_app(
    state_dir: Path | None = None,
    *,
    provision_delay: float = DEFAULT_PROVISION_DELAY,
    action_delay: float = DEFAULT_ACTION_DELAY,
    rate_limit: int = 1600,
    rate_window: float = 60.0,
) -> SandboxMiddleware:
    state = JsonState(None if state_dir is None else state_dir / "linode.json", _initial)
    s = LinodeSandbox(state, provision_delay=provision_delay, action_delay=action_delay)
    routes = [
        Route("/v4/profile", s.profile),
        Route("/v4/account/events", s.list_events),
        Route("/v4/account/events/{id}", s.get_event),
        Route("/v4/linode/types", s.list_types),
        Route("/v4/linode/types/{id}", s.get_type),
        Route("/v4/regions", s.list_regions),
        Route("/v4/regions/{id}", s.get_region),
        Route("/v4/images", s.list_images),
        Route("/v4/images/{id:path}", s.get_image),
        Route("/v4/linode/stackscripts", s.list_stackscripts),
        Route("/v4/linode/stackscripts/{id}", s.get_stackscript),
        Route("/v4/linode/instances", s.list_instances, methods=["GET"]),
        Route("/v4/linode/instances", s.create_instance, methods=["POST"]),
        Route("/v4/linode/instances/{id:int}", s.get_instance, methods=["GET"]),
        Route("/v4/linode/instances/{id:int}", s.delete_instance, methods=["DELETE"]),
        Route("/v4/linode/instances/{id:int}/{command}", s.instance_action, methods=["POST"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return errors(404, "Not found")

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.state.sandbox = s
    profile = SandboxProfile(
        name="linode",
        error_body=lambda status, code, message: {"errors": [{"reason": message}]},
        rate_limit=rate_limit,
        rate_window=rate_window,
        style=RateLimitStyle(
            limit="X-RateLimit-Limit", remaining="X-RateLimit-Remaining", reset="X-RateLimit-Reset"
        ),
        unauthorized_message="Invalid Token",
        rate_limited_message="Too many requests",
    )
    return SandboxMiddleware(app, profile=profile, state=state, sandbox=s)


__all__ = ["LinodeSandbox", "create_app"]

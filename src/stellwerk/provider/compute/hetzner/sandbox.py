"""The Hetzner Cloud sandbox: `/v1` servers, actions, server types, locations, images, and DNS
zones with rrsets, in the shapes `hcloud` and the Hetzner OpenAPI spec use.

Servers start `initializing` and run after `provision_delay` seconds with an IPv4 address and an
IPv6 network; actions go `running` → `success` over `action_delay` seconds.
"""

from __future__ import annotations

import math
import secrets
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stellwerk.provider.compute.hetzner.catalog import IMAGES, LOCATIONS, SERVER_TYPES, image_for
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
    progress_of,
    reply,
)
from stellwerk.provider.registry import HOSTNAME
from stellwerk.provider.sandbox.kit import (
    JsonState,
    RateLimitStyle,
    SandboxMiddleware,
    SandboxProfile,
)
from stellwerk.provider.sandbox.openapi import OpenApiCheck, Problem, Spec

# The nameservers a new zone is assigned (`authoritative_nameservers.assigned`).
NAMESERVERS = ("hydrogen.ns.hetzner.com.", "oxygen.ns.hetzner.com.", "helium.ns.hetzner.de.")


def _deprecated(type_view: dict[str, Any], location: str) -> bool:
    """Unavailable in `location`: its `deprecation.unavailable_after` is in the past
    (hetzner.json, `server_type.locations`)."""
    for item in type_view["locations"]:
        if item["name"] == location:
            deprecation = item["deprecation"]
            return deprecation is not None and deprecation["unavailable_after"] <= iso(now())
    return True  # not offered there at all


def _datacenter(location: dict[str, Any]) -> dict[str, Any]:
    ids = [t["id"] for t in SERVER_TYPES if any(x["id"] == location["id"] for x in t["locations"])]
    return {
        "id": location["id"],
        "name": f"{location['name']}-dc{location['id'] + 7}",
        "description": f"{location['city']} DC {location['id'] + 7}",
        "location": location,
        "server_types": {"supported": ids, "available": ids, "available_for_migration": ids},
    }


def _initial() -> dict[str, Any]:
    # `deprecations`: {server type: {location: deprecation_info}}, set by `/__sandbox__/catalog`.
    return {"servers": {}, "actions": {}, "zones": {}, "deprecations": {}}


def error(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    return reply({"error": {"code": code, "message": message, "details": details or {}}}, status)


def _invalid(field: str, message: str) -> JSONResponse:
    return error(
        400,
        "invalid_input",
        f"invalid input in field '{field}'",
        {"fields": [{"name": field, "messages": [message]}]},
    )


def _refuse(problems: list[Problem]) -> Response:
    """A body the spec refuses: `invalid_input` naming the fields (docs.hetzner.cloud, Errors)."""
    first = problems[0].field or "body"
    return error(
        400,
        "invalid_input",
        f"invalid input in field '{first}'",
        {"fields": [{"name": p.field or "body", "messages": [p.message]} for p in problems]},
    )


def _page(request: Request, key: str, items: list[dict[str, Any]]) -> Response:
    # `page` from 1, `per_page` 25 unless asked, at most 50 (docs.hetzner.cloud, Pagination).
    page = int_param(request, "page", 1, low=1, high=1_000_000)
    per_page = int_param(request, "per_page", 25, low=1, high=50)
    if page is None or per_page is None:
        return _invalid("per_page" if per_page is None else "page", "invalid value")
    total = len(items)
    last = max(1, math.ceil(total / per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    return reply(
        {
            key: chunk,
            "meta": {
                "pagination": {
                    "page": page,
                    "per_page": per_page,
                    "previous_page": page - 1 if page > 1 else None,
                    "next_page": page + 1 if page < last else None,
                    "last_page": last,
                    "total_entries": total,
                }
            },
        }
    )


def _label_matches(labels: dict[str, str], selector: str | None) -> bool:
    if not selector:
        return True
    for term in selector.split(","):
        key, sep, value = term.strip().partition("=")
        if sep and labels.get(key) != value:
            return False
        if not sep and key not in labels:
            return False
    return True


class HetznerSandbox(ComputeSandbox):
    # --- state -------------------------------------------------------------------------------
    @property
    def servers(self) -> dict[str, dict[str, Any]]:
        return self.table("servers")

    @property
    def actions(self) -> dict[str, dict[str, Any]]:
        return self.table("actions")

    def _new_action(
        self, command: str, server_id: int | None, resource: str = "server"
    ) -> dict[str, Any]:
        action_id = self.state.next_id("action", 1000)
        action = {
            "id": action_id,
            "command": command,
            "started_at": now(),
            "duration": self.action_delay,
            "resources": [] if server_id is None else [{"id": server_id, "type": resource}],
        }
        self.actions[str(action_id)] = action
        return action

    def _action_view(self, action: dict[str, Any]) -> dict[str, Any]:
        progress = progress_of(action["started_at"], action["duration"])
        done = progress >= 100
        return {
            "id": action["id"],
            "command": action["command"],
            "status": "success" if done else "running",
            "progress": progress,
            "started": iso(action["started_at"]),
            "finished": iso(action["started_at"] + action["duration"]) if done else None,
            "resources": action["resources"],
            "error": None,
        }

    def _server_view(self, server: dict[str, Any]) -> dict[str, Any]:
        self.settle(server)
        server_id = server["id"]
        server_type = next(t for t in SERVER_TYPES if t["name"] == server["server_type"])
        image = next(i for i in IMAGES if server["image"] in (i["id"], i["name"]))
        location = next(loc for loc in LOCATIONS if loc["name"] == server["location"])
        return {
            "id": server_id,
            "name": server["name"],
            "status": server["status"],
            "created": iso(server["created"]),
            "public_net": {
                "ipv4": {
                    "id": server_id + 10_000,
                    "ip": ipv4_for(server_id),
                    "blocked": False,
                    "dns_ptr": f"static.{ipv4_for(server_id)}.clients.your-server.de",
                }
                if server["ipv4"]
                else None,
                "ipv6": {
                    "id": server_id + 20_000,
                    "ip": f"{ipv6_for(server_id).rsplit('::', 1)[0]}::/64",
                    "blocked": False,
                    "dns_ptr": [],
                }
                if server["ipv6"]
                else None,
                "floating_ips": [],
                "firewalls": [],
            },
            "private_net": [],
            "server_type": server_type,
            "datacenter": _datacenter(location),
            "location": location,
            "image": image,
            "iso": None,
            "rescue_enabled": False,
            "locked": False,
            "backup_window": "22-02" if server["backups"] else None,
            "outgoing_traffic": 0,
            "ingoing_traffic": 0,
            "included_traffic": 21990232555520,
            "protection": {"delete": False, "rebuild": False},
            "labels": server["labels"],
            "volumes": [],
            "load_balancers": [],
            "primary_disk_size": server_type["disk"],
            "placement_group": None,
        }

    def _find(self, request: Request) -> dict[str, Any] | None:
        self._sweep()
        return self.servers.get(request.path_params["id"])

    def _sweep(self) -> None:
        """Forget servers whose deletion action has run."""
        for key, server in list(self.servers.items()):
            if server.get("_gone_at") is not None and now() >= server["_gone_at"]:
                del self.servers[key]

    # --- catalogs ----------------------------------------------------------------------------
    def type_view(self, server_type: dict[str, Any]) -> dict[str, Any]:
        """A server type with the deprecations announced for it (per location)."""
        announced: dict[str, Any] = self.state.data.get("deprecations", {}).get(
            server_type["name"], {}
        )
        locations = []
        for item in server_type["locations"]:
            deprecation = announced.get(item["name"])
            gone = deprecation is not None and deprecation["unavailable_after"] <= iso(now())
            locations.append(
                {
                    **item,
                    "deprecation": deprecation,
                    "available": not gone,
                    "recommended": deprecation is None,
                }
            )
        everywhere = bool(locations) and all(x["deprecation"] for x in locations)
        return {
            **server_type,
            "locations": locations,
            "deprecated": everywhere,
            "deprecation": locations[0]["deprecation"] if everywhere else None,
        }

    def type_views(self) -> list[dict[str, Any]]:
        return [self.type_view(t) for t in SERVER_TYPES]

    async def list_server_types(self, request: Request) -> Response:
        name = request.query_params.get("name")
        items = [t for t in self.type_views() if name is None or t["name"] == name]
        return _page(request, "server_types", items)

    async def get_server_type(self, request: Request) -> Response:
        for item in self.type_views():
            if str(item["id"]) == request.path_params["id"]:
                return reply({"server_type": item})
        return error(404, "not_found", "server_type not found")

    def control_catalog(self, method: str, body: Any) -> Any:
        """`POST {"deprecate": {"server_type", "location", "announced"?, "unavailable_after"}}`:
        Hetzner announces a server type's end in a location (as on 2025-10-16)."""
        if method == "POST" and isinstance(body, dict) and isinstance(body.get("deprecate"), dict):
            item = body["deprecate"]
            announced = self.state.data.setdefault("deprecations", {})
            announced.setdefault(item["server_type"], {})[item["location"]] = {
                "announced": item.get("announced") or iso(now()),
                "unavailable_after": item["unavailable_after"],
            }
            self.state.save()
        return {"server_types": self.type_views()}

    async def list_locations(self, request: Request) -> Response:
        name = request.query_params.get("name")
        return _page(request, "locations", [x for x in LOCATIONS if name in (None, x["name"])])

    async def get_location(self, request: Request) -> Response:
        for item in LOCATIONS:
            if str(item["id"]) == request.path_params["id"]:
                return reply({"location": item})
        return error(404, "not_found", "location not found")

    async def list_datacenters(self, request: Request) -> Response:
        return _page(request, "datacenters", [_datacenter(loc) for loc in LOCATIONS])

    async def list_images(self, request: Request) -> Response:
        name = request.query_params.get("name")
        types = request.query_params.getlist("type")
        items = [
            i for i in IMAGES if name in (None, i["name"]) and (not types or i["type"] in types)
        ]
        return _page(request, "images", items)

    async def get_image(self, request: Request) -> Response:
        for item in IMAGES:
            if str(item["id"]) == request.path_params["id"]:
                return reply({"image": item})
        return error(404, "not_found", "image not found")

    # --- servers -----------------------------------------------------------------------------
    async def list_servers(self, request: Request) -> Response:
        name = request.query_params.get("name")
        selector = request.query_params.get("label_selector")
        statuses = request.query_params.getlist("status")
        items = []
        self._sweep()
        for server in sorted(self.servers.values(), key=lambda s: int(s["id"])):
            view = self._server_view(server)
            if name not in (None, server["name"]):
                continue
            if not _label_matches(server["labels"], selector):
                continue
            if statuses and view["status"] not in statuses:
                continue
            items.append(view)
        self.state.save()
        return _page(request, "servers", items)

    async def create_server(self, request: Request) -> Response:
        body = await body_of(request)
        # A body that is not JSON is `json_error` (docs.hetzner.cloud, Errors).
        if body is None:
            return error(400, "json_error", "Invalid JSON")
        name = body.get("name")
        if not isinstance(name, str) or not name:
            return _invalid("name", "Missing data for required field.")
        # "must be unique per Project and a valid hostname as per RFC 1123" (hetzner.json,
        # create_server_request.name): no '_'.
        if not HOSTNAME.accepts(name):
            return _invalid("name", "name must be a valid hostname")
        # Names are unique per project: `uniqueness_error` (docs.hetzner.cloud, Errors).
        if any(s["name"] == name for s in self.servers.values()):
            return error(409, "uniqueness_error", "server name is already used")
        server_type = str(body.get("server_type", ""))
        # Removed types are not listed and cannot be ordered (hetzner.json, deprecation_info).
        found_type = next(
            (t for t in self.type_views() if server_type in (t["name"], str(t["id"]))), None
        )
        if found_type is None:
            return _invalid("server_type", "server type not found")
        image_ref = str(body.get("image", ""))
        # An image name means that name's image of the type's architecture; an image id of the
        # other architecture does not fit the type.
        image = image_for(image_ref, found_type["architecture"])
        if image is None:
            other = next((i for i in IMAGES if image_ref in (i["name"], str(i["id"]))), None)
            message = "image not found" if other is None else "image architecture does not match"
            return _invalid("image", message)
        location_ref = body.get("location") or "fsn1"
        datacenter = body.get("datacenter")
        if datacenter and not body.get("location"):
            location_ref = str(datacenter).split("-", 1)[0]
        location = next(
            (loc for loc in LOCATIONS if str(location_ref) in (loc["name"], str(loc["id"]))), None
        )
        if location is None:
            return _invalid("location", "location not found")
        # Not offered there, or its `unavailable_after` there has passed (hetzner.json,
        # `server_type.locations`).
        if _deprecated(found_type, location["name"]):
            return _invalid(
                "server_type",
                f"server type {found_type['name']} is not available in {location['name']}",
            )
        labels = body.get("labels") or {}
        # Labels are an object of strings (hetzner.json, `labels`).
        if not isinstance(labels, dict):
            return _invalid("labels", "labels must be an object")
        public_net = body.get("public_net") or {}
        server_id = self.state.next_id("server", 42)
        start = body.get("start_after_create", True) is not False
        server = {
            "id": server_id,
            "name": name,
            "server_type": found_type["name"],
            "image": image["id"],
            "location": location["name"],
            "labels": {str(k): str(v) for k, v in labels.items()},
            "status": "initializing",
            "transition": {"to": "running" if start else "off", "at": now() + self.provision_delay},
            "created": now(),
            "ipv4": public_net.get("enable_ipv4", True) is not False,
            "ipv6": public_net.get("enable_ipv6", True) is not False,
            "backups": False,
        }
        self.servers[str(server_id)] = server
        action = self._new_action("create_server", server_id)
        action["duration"] = self.provision_delay
        next_actions = [self._new_action("start_server", server_id)] if start else []
        self.state.save()
        return reply(
            {
                "server": self._server_view(server),
                "action": self._action_view(action),
                "next_actions": [self._action_view(a) for a in next_actions],
                "root_password": None if body.get("ssh_keys") else secrets.token_urlsafe(15),
            },
            201,
        )

    async def get_server(self, request: Request) -> Response:
        server = self._find(request)
        if server is None:
            return error(
                404, "not_found", f"Server with ID '{request.path_params['id']}' not found"
            )
        view = self._server_view(server)
        self.state.save()
        return reply({"server": view})

    async def delete_server(self, request: Request) -> Response:
        server = self._find(request)
        if server is None:
            return error(
                404, "not_found", f"Server with ID '{request.path_params['id']}' not found"
            )
        # The deletion is an action: the server says `deleting` until it ran, then it is gone
        # (hetzner.json: DELETE /servers/{id} answers the `delete_server` action).
        action = self._new_action("delete_server", server["id"])
        server["status"] = "deleting"
        server["transition"] = None
        server["_gone_at"] = action["started_at"] + action["duration"]
        self.state.save()
        return reply({"action": self._action_view(action)})

    async def server_action(self, request: Request) -> Response:
        server = self._find(request)
        if server is None:
            return error(
                404, "not_found", f"Server with ID '{request.path_params['id']}' not found"
            )
        self.settle(server)
        command = request.path_params["command"]
        transitions = {
            "poweron": ("start_server", "starting", "running"),
            "poweroff": ("stop_server", "stopping", "off"),
            "shutdown": ("shutdown_server", "stopping", "off"),
            "reboot": ("reboot_server", "running", "running"),
            "reset": ("reset_server", "running", "running"),
        }
        if command not in transitions:
            return error(404, "not_found", "not found")
        # Another action runs on the server: `locked` (docs.hetzner.cloud, Errors, 423).
        if server["status"] == "initializing":
            return error(423, "locked", "server is locked by a running action")
        name, during, after = transitions[command]
        action = self._new_action(name, server["id"])
        server["status"] = during
        server["transition"] = {"to": after, "at": now() + self.action_delay}
        self.state.save()
        return reply({"action": self._action_view(action)}, 201)

    async def get_action(self, request: Request) -> Response:
        action = self.actions.get(request.path_params["action_id"])
        if action is None:
            return error(
                404, "not_found", f"Action with ID '{request.path_params['action_id']}' not found"
            )
        return reply({"action": self._action_view(action)})

    # --- DNS zones (the Cloud API's zones and rrsets) ----------------------------------------
    @property
    def zones(self) -> dict[str, dict[str, Any]]:
        zones: dict[str, dict[str, Any]] = self.state.data.setdefault("zones", {})
        return zones

    def _zone(self, ref: str) -> dict[str, Any] | None:
        for zone in self.zones.values():
            if ref in (zone["name"], str(zone["id"])):
                return zone
        return None

    def _zone_view(self, zone: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": zone["id"],
            "name": zone["name"],
            "created": iso(zone["created"]),
            "mode": "primary",
            "primary_nameservers": [],
            "labels": zone.get("labels", {}),
            "protection": {"delete": False},
            "ttl": zone["ttl"],
            "status": "ok",
            "record_count": sum(len(r["records"]) for r in zone["rrsets"].values()),
            "authoritative_nameservers": {
                "assigned": list(NAMESERVERS),
                "delegated": [],
                "delegation_last_check": None,
                "delegation_status": "unknown",
            },
            "registrar": "other",
        }

    @staticmethod
    def _rrset_view(zone: dict[str, Any], rrset: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": f"{rrset['name']}/{rrset['type']}",
            "name": rrset["name"],
            "type": rrset["type"],
            "ttl": rrset["ttl"],
            "labels": rrset.get("labels", {}),
            "protection": {"change": False},
            "records": [
                {"value": r["value"], "comment": r.get("comment", "")} for r in rrset["records"]
            ],
            "zone": zone["id"],
        }

    async def list_zones(self, request: Request) -> Response:
        name = request.query_params.get("name")
        items = [
            self._zone_view(z)
            for z in sorted(self.zones.values(), key=lambda z: z["id"])
            if name in (None, z["name"])
        ]
        return _page(request, "zones", items)

    async def create_zone(self, request: Request) -> Response:
        body = await body_of(request)
        if body is None:
            return error(400, "json_error", "Invalid JSON")
        name = str(body.get("name", "")).strip().rstrip(".").lower()
        # A zone is a domain name, once per account (hetzner.json, create_zone_request `name`).
        if not name or "." not in name:
            return _invalid("name", "invalid zone name")
        if self._zone(name) is not None:
            return error(409, "uniqueness_error", "zone name is already used")
        zone_id = self.state.next_id("zone", 1)
        ttl = int(body.get("ttl") or 3600)
        zone: dict[str, Any] = {
            "id": zone_id,
            "name": name,
            "ttl": ttl,
            "created": now(),
            "labels": body.get("labels") or {},
            "rrsets": {},
        }
        # "A default SOA and three NS resource records with the assigned Hetzner nameservers
        # are created automatically" (hetzner.json, POST /zones).
        zone["rrsets"]["@/SOA"] = {
            "name": "@",
            "type": "SOA",
            "ttl": ttl,
            "records": [
                {
                    "value": f"{NAMESERVERS[0]} dns.hetzner.com. {int(now())} 86400 10800 "
                    "3600000 3600",
                    "comment": "",
                }
            ],
        }
        zone["rrsets"]["@/NS"] = {
            "name": "@",
            "type": "NS",
            "ttl": ttl,
            "records": [{"value": server, "comment": ""} for server in NAMESERVERS],
        }
        for rrset in body.get("rrsets") or []:
            key = f"{rrset['name']}/{rrset['type']}"
            zone["rrsets"][key] = {
                "name": rrset["name"],
                "type": rrset["type"],
                "ttl": rrset.get("ttl"),
                "records": list(rrset.get("records") or []),
            }
        self.zones[str(zone_id)] = zone
        action = self._new_action("create_zone", zone_id, "zone")
        action["duration"] = 0
        self.state.save()
        return reply({"zone": self._zone_view(zone), "action": self._action_view(action)}, 201)

    async def get_zone(self, request: Request) -> Response:
        zone = self._zone(request.path_params["zone"])
        if zone is None:
            return error(404, "not_found", "zone not found")
        return reply({"zone": self._zone_view(zone)})

    async def delete_zone(self, request: Request) -> Response:
        zone = self._zone(request.path_params["zone"])
        if zone is None:
            return error(404, "not_found", "zone not found")
        del self.zones[str(zone["id"])]
        action = self._new_action("delete_zone", zone["id"], "zone")
        action["duration"] = 0
        self.state.save()
        return reply({"action": self._action_view(action)}, 201)  # hetzner.json: 201

    async def list_rrsets(self, request: Request) -> Response:
        zone = self._zone(request.path_params["zone"])
        if zone is None:
            return error(404, "not_found", "zone not found")
        name = request.query_params.get("name")
        types = request.query_params.getlist("type")
        items = [
            self._rrset_view(zone, r)
            for r in sorted(zone["rrsets"].values(), key=lambda r: (r["name"], r["type"]))
            if name in (None, r["name"]) and (not types or r["type"] in types)
        ]
        return _page(request, "rrsets", items)

    async def create_rrset(self, request: Request) -> Response:
        zone = self._zone(request.path_params["zone"])
        if zone is None:
            return error(404, "not_found", "zone not found")
        body = await body_of(request)
        if body is None:
            return error(400, "json_error", "Invalid JSON")
        name, type_ = str(body.get("name", "")), str(body.get("type", ""))
        if not name or not type_:
            return _invalid("name" if not name else "type", "Missing data for required field.")
        records = body.get("records") or []
        # create_rrset_request: `name`, `type` and at least one record; one rrset per name
        # and type (hetzner.json).
        if not records or not all(isinstance(r, dict) and r.get("value") for r in records):
            return _invalid("records", "at least one record with a value is required")
        key = f"{name}/{type_}"
        if key in zone["rrsets"]:
            return error(409, "uniqueness_error", "rrset already exists")
        zone["rrsets"][key] = {
            "name": name,
            "type": type_,
            "ttl": body.get("ttl"),
            "labels": body.get("labels") or {},
            "records": [{"value": r["value"], "comment": r.get("comment", "")} for r in records],
        }
        action = self._new_action("create_rrset", zone["id"], "zone")
        action["duration"] = 0
        self.state.save()
        return reply(
            {
                "rrset": self._rrset_view(zone, zone["rrsets"][key]),
                "action": self._action_view(action),
            },
            201,
        )

    def _rrset(self, request: Request) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        zone = self._zone(request.path_params["zone"])
        if zone is None:
            return None, None
        key = f"{request.path_params['rr_name']}/{request.path_params['rr_type']}"
        return zone, zone["rrsets"].get(key)

    async def get_rrset(self, request: Request) -> Response:
        zone, rrset = self._rrset(request)
        if zone is None or rrset is None:
            return error(404, "not_found", "rrset not found")
        return reply({"rrset": self._rrset_view(zone, rrset)})

    async def delete_rrset(self, request: Request) -> Response:
        zone, rrset = self._rrset(request)
        if zone is None or rrset is None:
            return error(404, "not_found", "rrset not found")
        del zone["rrsets"][f"{rrset['name']}/{rrset['type']}"]
        action = self._new_action("delete_rrset", zone["id"], "zone")
        action["duration"] = 0
        self.state.save()
        return reply({"action": self._action_view(action)})

    async def rrset_action(self, request: Request) -> Response:
        zone, rrset = self._rrset(request)
        command = request.path_params["command"]
        body = await body_of(request)
        if body is None:
            return error(400, "json_error", "Invalid JSON")
        if zone is None:
            return error(404, "not_found", "zone not found")
        records = [
            {"value": r["value"], "comment": r.get("comment", "")}
            for r in body.get("records") or []
            if isinstance(r, dict) and r.get("value")
        ]
        key = f"{request.path_params['rr_name']}/{request.path_params['rr_type']}"
        if command == "add_records":
            values = [r["value"] for r in records]
            # "Must not be empty and must only contain distinct record values"; "If set, and the
            # RRSet being updated already has a TTL, the values must be the same"
            # (hetzner.json, add_records_to_rrset_request).
            if len(set(values)) != len(values):
                return _invalid("records", "record values must be distinct")
            ttl = body.get("ttl")
            if (
                rrset is not None
                and ttl is not None
                and rrset.get("ttl") is not None
                and ttl != rrset["ttl"]
            ):
                return _invalid("ttl", "ttl must be the same as the RRSet's TTL")
            if rrset is None:
                rrset = {
                    "name": request.path_params["rr_name"],
                    "type": request.path_params["rr_type"],
                    "ttl": body.get("ttl"),
                    "records": [],
                }
                zone["rrsets"][key] = rrset
            known = {r["value"] for r in rrset["records"]}
            rrset["records"].extend(r for r in records if r["value"] not in known)
        elif rrset is None:
            return error(404, "not_found", "rrset not found")
        elif command == "remove_records":
            removed = {r["value"] for r in records}
            rrset["records"] = [r for r in rrset["records"] if r["value"] not in removed]
            if not rrset["records"]:
                del zone["rrsets"][key]
        elif command == "set_records":
            rrset["records"] = records
        elif command == "change_ttl":
            rrset["ttl"] = body.get("ttl")
        else:
            return error(404, "not_found", "not found")
        action = self._new_action(f"{command}_rrset", zone["id"], "zone")
        action["duration"] = 0
        self.state.save()
        return reply({"action": self._action_view(action)}, 201)


def create_app(
    state_dir: Path | None = None,
    *,
    provision_delay: float = DEFAULT_PROVISION_DELAY,
    action_delay: float = DEFAULT_ACTION_DELAY,
    rate_limit: int = 3600,
    rate_window: float = 3600.0,
) -> SandboxMiddleware:
    state = JsonState(None if state_dir is None else state_dir / "hetzner.json", _initial)
    sandbox = HetznerSandbox(state, provision_delay=provision_delay, action_delay=action_delay)
    s = sandbox
    routes = [
        Route("/v1/server_types", s.list_server_types),
        Route("/v1/server_types/{id}", s.get_server_type),
        Route("/v1/locations", s.list_locations),
        Route("/v1/locations/{id}", s.get_location),
        Route("/v1/datacenters", s.list_datacenters),
        Route("/v1/images", s.list_images),
        Route("/v1/images/{id}", s.get_image),
        Route("/v1/servers", s.list_servers, methods=["GET"]),
        Route("/v1/servers", s.create_server, methods=["POST"]),
        Route("/v1/servers/{id}", s.get_server, methods=["GET"]),
        Route("/v1/servers/{id}", s.delete_server, methods=["DELETE"]),
        Route("/v1/servers/{id}/actions/{action_id:int}", s.get_action, methods=["GET"]),
        Route("/v1/servers/{id}/actions/{command}", s.server_action, methods=["POST"]),
        Route("/v1/actions/{action_id}", s.get_action),
        Route("/v1/zones", s.list_zones, methods=["GET"]),
        Route("/v1/zones", s.create_zone, methods=["POST"]),
        Route("/v1/zones/{zone}", s.get_zone, methods=["GET"]),
        Route("/v1/zones/{zone}", s.delete_zone, methods=["DELETE"]),
        Route("/v1/zones/{zone}/rrsets", s.list_rrsets, methods=["GET"]),
        Route("/v1/zones/{zone}/rrsets", s.create_rrset, methods=["POST"]),
        Route("/v1/zones/{zone}/rrsets/{rr_name}/{rr_type}", s.get_rrset, methods=["GET"]),
        Route("/v1/zones/{zone}/rrsets/{rr_name}/{rr_type}", s.delete_rrset, methods=["DELETE"]),
        Route(
            "/v1/zones/{zone}/rrsets/{rr_name}/{rr_type}/actions/{command}",
            s.rrset_action,
            methods=["POST"],
        ),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        return error(404, "not_found", "not found")

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.state.sandbox = sandbox
    profile = SandboxProfile(
        name="hetzner",
        error_body=lambda status, code, message: {
            "error": {"code": code, "message": message, "details": {}}
        },
        rate_limit=rate_limit,
        rate_window=rate_window,
        # docs.hetzner.cloud, "Rate Limiting": 3600 requests an hour per project, refilled one
        # a second; `RateLimit-Reset` is when all are available again; a 429 has no Retry-After.
        style=RateLimitStyle(
            limit="RateLimit-Limit",
            remaining="RateLimit-Remaining",
            reset="RateLimit-Reset",
            retry_after_on_429=False,
            refill_per_second=rate_limit / rate_window,
        ),
        unauthorized_code="unauthorized",
        unauthorized_message="unable to authenticate",
        rate_limited_code="rate_limit_exceeded",
        rate_limited_message="limit of 3600 requests per hour reached",
    )
    checked = OpenApiCheck(app, spec=Spec.load(__package__ or "", prefix="/v1"), refuse=_refuse)
    return SandboxMiddleware(
        checked,
        profile=profile,
        state=state,
        sandbox=sandbox,
        controls={"catalog": sandbox.control_catalog},
    )


__all__ = ["HetznerSandbox", "create_app"]

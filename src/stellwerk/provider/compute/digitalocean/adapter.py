"""DigitalOcean through a thin httpx client (`ProviderHttp`), checked against the DigitalOcean
OpenAPI spec; `pydo` is used only by the fidelity tests (see docs/providers.md for why)."""

from __future__ import annotations

import re
from typing import Any

import httpx

from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.provider.action import Action, Backoff
from stellwerk.provider.budget import token_fingerprint
from stellwerk.provider.check import Probe, Report, Target, clock, new_report, refused
from stellwerk.provider.compute.base import (
    LEGACY_MARKER_PREFIX,
    CreatedServer,
    CreateServer,
    Image,
    MarketplaceApp,
    Plan,
    Region,
    Server,
    marker_tag,
    split_marker,
)
from stellwerk.provider.compute.sdk import budget_for, cloud_config, is_public_key
from stellwerk.provider.error import (
    API_ERROR,
    INSUFFICIENT_RESOURCES,
    INVALID_ACTION,
    INVALID_CREDENTIALS,
    NOT_FOUND,
    RATE_LIMIT_EXCEEDED,
    VALIDATION_ERROR,
    ProviderError,
)
from stellwerk.provider.http import ProviderHttp

DEFAULT_BASE_URL = "https://api.digitalocean.com"
STATUS = {"new": "provisioning", "active": "running", "off": "off", "archive": "off"}
IDS = {
    "unauthorized": INVALID_CREDENTIALS,
    "forbidden": INVALID_CREDENTIALS,
    "not_found": NOT_FOUND,
    "too_many_requests": RATE_LIMIT_EXCEEDED,
    "unprocessable_entity": VALIDATION_ERROR,
    "bad_request": VALIDATION_ERROR,
    "server_error": API_ERROR,
}
# Words in DigitalOcean's messages that name the offending field.
FIELD_WORDS = (
    ("size", "plan"),
    ("image", "image"),
    ("region", "region"),
    ("ssh key", "ssh_keys"),
    ("name", "name"),
    ("tag", "tags"),
)
POWER = frozenset({"power_on", "shutdown", "power_off", "reboot", "power_cycle"})
CATEGORIES = {
    "wordpress": "CMS",
    "docker": "Development",
    "lamp": "Frameworks",
    "lemp": "Frameworks",
    "nodejs": "Development",
    "mysql": "Databases",
}
MAX_PAGES = 50
_VERSION = re.compile(r"-\d+(-\d+)*$")


def map_digitalocean_error(
    response: httpx.Response, provider: str = "digitalocean"
) -> ProviderError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    error_id = str(body.get("id", ""))
    message = str(body.get("message") or f"DigitalOcean answered {response.status_code}")
    if response.status_code == 401:
        code = INVALID_CREDENTIALS
    elif response.status_code >= 500:
        code = API_ERROR
    else:
        code = IDS.get(error_id, API_ERROR if response.status_code >= 500 else VALIDATION_ERROR)
    if code == VALIDATION_ERROR and "limit" in message.lower():
        code = INSUFFICIENT_RESOURCES
    field = None
    if code == VALIDATION_ERROR:
        lowered = message.lower()
        field = next((f for word, f in FIELD_WORDS if word in lowered), None)
    return ProviderError(code, message, provider=provider, field=field, original=body)


class DigitalOceanCompute:
    name = "digitalocean"
    power_actions = POWER

    def __init__(
        self,
        *,
        token: str,
        limiter: RateLimiter,
        base_url: str | None = None,
        budgets: dict[str, tuple[str, ...]] | None = None,
        max_attempts: int = 4,
        backoff: Backoff | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        poll_interval: float = 1.0,  # unused: droplet actions are followed by the caller
    ) -> None:
        endpoint = (base_url or DEFAULT_BASE_URL).rstrip("/")
        if endpoint.endswith("/v2"):
            endpoint = endpoint[: -len("/v2")]
        self.http = ProviderHttp(
            provider=self.name,
            base_url=f"{endpoint}/v2",
            headers={"Authorization": f"Bearer {token}", "User-Agent": "stellwerk"},
            map_error=lambda response: map_digitalocean_error(response, self.name),
            budget=budget_for(limiter, "digitalocean", budgets),
            budget_key=("digitalocean", token_fingerprint(token)),
            timeout=timeout,
            max_attempts=max_attempts,
            backoff=backoff,
            transport=transport,
        )

    async def _get(self, path: str, **params: Any) -> dict[str, Any]:
        response = await self.http.request("GET", path, params=params or None, timeout=15.0)
        body: dict[str, Any] = response.json()
        return body

    async def _collect(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        for _ in range(MAX_PAGES):
            body = await self._get(path, **params, page=page, per_page=200)
            items.extend(body.get(key) or [])
            if not ((body.get("links") or {}).get("pages") or {}).get("next"):
                break
            page += 1
        return items

    @staticmethod
    def _server(droplet: dict[str, Any]) -> Server:
        networks = droplet.get("networks") or {}
        ipv4 = next(
            (n["ip_address"] for n in networks.get("v4") or [] if n.get("type") == "public"), None
        )
        ipv6 = next(
            (n["ip_address"] for n in networks.get("v6") or [] if n.get("type") == "public"), None
        )
        marker, tags = split_marker(str(t) for t in droplet.get("tags") or [])
        size = droplet.get("size") or {}
        transfer = size.get("transfer")
        return Server(
            id=str(droplet["id"]),
            name=str(droplet.get("name", "")),
            status=STATUS.get(str(droplet.get("status")), "unknown"),
            provider_status=str(droplet.get("status")),
            region=(droplet.get("region") or {}).get("slug"),
            plan=droplet.get("size_slug"),
            image=(droplet.get("image") or {}).get("slug"),
            ipv4=ipv4,
            ipv6=ipv6,
            created_at=droplet.get("created_at"),
            vcpus=droplet.get("vcpus"),
            memory=droplet.get("memory"),
            disk=droplet.get("disk"),
            transfer=int(float(transfer) * 1000) if transfer is not None else None,
            tags=tags,
            marker=marker,
        )

    def _action(self, action: dict[str, Any]) -> Action:
        async def refresh() -> Action:
            body = await self._get(f"/actions/{action['id']}")
            return self._action(body["action"])

        status = action.get("status")
        return Action(
            id=str(action["id"]),
            command=str(action.get("type", "")),
            status="success"
            if status == "completed"
            else "error"
            if status == "errored"
            else "running",
            progress=100 if status == "completed" else 0,
            refresh=refresh,
            error="The droplet action errored" if status == "errored" else None,
        )

    async def verify_credentials(self) -> None:
        await self._get("/account")

    async def create_server(self, *, request: CreateServer) -> CreatedServer:
        image = request.image
        if request.app:
            apps = {a.slug: a for a in await self.list_marketplace()}
            app = apps.get(request.app) or next(
                (a for a in apps.values() if a.image_slug == request.app), None
            )
            if app is None or app.image_slug is None:
                raise ProviderError(
                    VALIDATION_ERROR,
                    f"No 1-Click app {request.app}",
                    provider=self.name,
                    field="app",
                )
            image = app.image_slug
        keys: list[int | str] = []
        raw_keys: list[str] = []
        for key in request.ssh_keys:
            if is_public_key(key):
                raw_keys.append(key)
            else:
                keys.append(int(key) if key.isdecimal() else key)
        body: dict[str, Any] = {
            "name": request.name,
            "region": request.region,
            "size": request.plan,
            "image": image,
            "ssh_keys": keys,
            "backups": request.backups,
            "ipv6": request.ipv6,
            "monitoring": request.monitoring,
            "tags": [*request.tags, marker_tag(request.marker)],
        }
        if request.vpc_uuid:
            body["vpc_uuid"] = request.vpc_uuid
        user_data = cloud_config(
            root_password=request.root_password, ssh_keys=raw_keys, user_data=request.user_data
        )
        if user_data:
            body["user_data"] = user_data
        response = await self.http.request(
            "POST", "/droplets", json=body, idempotent=False, timeout=60.0
        )
        created = response.json()
        actions = (created.get("links") or {}).get("actions") or []
        action = None
        if actions:
            action = self._action(
                {"id": actions[0]["id"], "type": "create", "status": "in-progress"}
            )
        return CreatedServer(server=self._server(created["droplet"]), action=action)

    async def get_server(self, *, server_id: str) -> Server:
        if not server_id.isdecimal():
            raise ProviderError(
                NOT_FOUND, "The resource you requested could not be found.", provider=self.name
            )
        return self._server((await self._get(f"/droplets/{server_id}"))["droplet"])

    async def find_server(self, *, marker: str) -> Server | None:
        droplets = await self._collect("/droplets", "droplets", tag_name=marker_tag(marker))
        if not droplets:  # a droplet created before the tag became shorter
            legacy = f"{LEGACY_MARKER_PREFIX}{marker}"
            droplets = await self._collect("/droplets", "droplets", tag_name=legacy)
        return self._server(droplets[0]) if droplets else None

    async def list_servers(self) -> list[Server]:
        return [self._server(d) for d in await self._collect("/droplets", "droplets")]

    async def delete_server(self, *, server_id: str) -> Action | None:
        await self.http.request("DELETE", f"/droplets/{server_id}", timeout=30.0)
        return None

    async def power(self, *, server_id: str, action: str) -> Action | None:
        if action not in POWER:
            raise ProviderError(
                INVALID_ACTION,
                f"DigitalOcean has no {action} action",
                provider=self.name,
                field="action",
            )
        response = await self.http.request(
            "POST", f"/droplets/{server_id}/actions", json={"type": action}, idempotent=False
        )
        return self._action(response.json()["action"])

    async def list_plans(self) -> list[Plan]:
        return [
            Plan(
                id=str(s["slug"]),
                label=f"{s.get('description') or 'Droplet'} - {_memory_label(int(s['memory']))}",
                vcpus=int(s["vcpus"]),
                memory=int(s["memory"]),
                disk=int(s["disk"]),
                transfer=int(float(s.get("transfer") or 0) * 1000),
                price_hourly=float(s.get("price_hourly") or 0),
                price_monthly=float(s.get("price_monthly") or 0),
                regions=tuple(s.get("regions") or ()),
                available=bool(s.get("available", True)),
                description=s.get("description"),
            )
            for s in await self._collect("/sizes", "sizes")
        ]

    async def list_images(self, *, type: str | None = None) -> list[Image]:
        if type == "custom":
            raw = [(i, "custom") for i in await self._collect("/images", "images", private="true")]
        else:
            raw = []
            for kind in ("distribution", "application"):
                if type in (None, kind):
                    raw.extend(
                        (i, kind) for i in await self._collect("/images", "images", type=kind)
                    )
            if type is None:
                raw.extend(
                    (i, "custom") for i in await self._collect("/images", "images", private="true")
                )
        return [
            Image(
                id=str(i["id"]),
                slug=i.get("slug"),
                label=_image_label(i),
                description=i.get("description") or None,
                distribution=i.get("distribution"),
                public=bool(i.get("public")),
                min_disk_size=i.get("min_disk_size"),
                type=kind,
            )
            for i, kind in raw
        ]

    async def list_regions(self) -> list[Region]:
        return [
            Region(
                id=str(r["slug"]),
                label=str(r.get("name", r["slug"])),
                available=bool(r.get("available")),
                capabilities=("droplets", "load_balancers", "volumes")
                if "storage" in (r.get("features") or [])
                else ("droplets",),
            )
            for r in await self._collect("/regions", "regions")
        ]

    async def list_marketplace(self) -> list[MarketplaceApp]:
        clicks = (await self._get("/1-clicks", type="droplet")).get("1_clicks") or []
        images = {
            i["slug"]: i for i in await self._collect("/images", "images", type="application")
        }
        distributions = await self._collect("/images", "images", type="distribution")
        apps = []
        for click in clicks:
            slug = str(click["slug"])
            image = images.get(slug, {})
            name = str(image.get("name") or slug)
            short = _VERSION.sub("", slug)
            base = image.get("distribution")
            compatible = tuple(
                str(d["slug"])
                for d in distributions
                if d.get("slug") and d.get("distribution") == base
            )
            apps.append(
                MarketplaceApp(
                    id=str(image.get("id", slug)),
                    slug=short,
                    name=name.split(" on ", 1)[0].rsplit(" ", 1)[0] if " on " in name else name,
                    description=image.get("description") or None,
                    category=CATEGORIES.get(short, "Application"),
                    image_slug=slug,
                    compatible_images=compatible,
                )
            )
        return apps

    async def aclose(self) -> None:
        await self.http.aclose()


def _memory_label(memory: int) -> str:
    return f"{memory // 1024}GB" if memory >= 1024 else f"{memory}MB"


def _image_label(image: dict[str, Any]) -> str:
    name = str(image.get("name", ""))
    distribution = image.get("distribution")
    if distribution and not name.startswith(distribution) and image.get("type") == "base":
        return f"{distribution} {name.replace(' (LTS)', '')}"
    return name


async def check(target: Target) -> Report:
    """DigitalOcean: the token (the account), its scopes (the droplet list), the catalog."""
    report = new_report(target)
    token = target.credentials.get("token") or ""
    base = target.url.rstrip("/").removesuffix("/v2")
    how = (
        "Create a personal access token (Control Panel → API → Tokens) with full access, or the "
        "custom scopes droplet:create, droplet:read, droplet:update, droplet:delete, tag:create, "
        "actions:read, sizes:read, regions:read, image:read, ssh_key:read and account:read, "
        f"and set it as {target.where}"
    )
    async with Probe(
        report, base_url=f"{base}/v2", headers={"Authorization": f"Bearer {token}"}
    ) as probe:
        account = await probe.request("GET", "/account")
        if account is None:
            return report
        if account.status_code in (401, 403):
            refused(report, account.status_code, how)
            return report
        if not account.is_success:
            report.fail(f"DigitalOcean answered HTTP {account.status_code} to GET /v2/account")
            return report
        data = account.json().get("account") or {}
        if data.get("status") not in (None, "active"):
            report.warn(
                f"The account is {data.get('status')}: {data.get('status_message') or ''}".strip(),
                "Settle it in the DigitalOcean Control Panel (Billing)",
            )
        else:
            report.ok(f"The token works (account {data.get('email')})")
        droplets = await probe.request("GET", "/droplets", params={"per_page": 1})
        if droplets is not None and droplets.status_code in (401, 403):
            report.fail("The token may not read droplets (scope droplet:read)", how)
        elif droplets is not None and droplets.is_success:
            report.ok(f"{(droplets.json().get('meta') or {}).get('total', 0)} droplets")
        sizes = await probe.request("GET", "/sizes", params={"per_page": 200})
        if sizes is not None and sizes.is_success:
            report.ok(f"{(sizes.json().get('meta') or {}).get('total', 0)} sizes on offer")
    if report.rate_limit:
        report.ok(
            f"Rate limit {report.rate_limit.get('limit')} an hour, "
            f"{report.rate_limit.get('remaining')} left (and 250 a minute)"
        )
    clock(report)
    return report

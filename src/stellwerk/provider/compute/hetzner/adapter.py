"""Hetzner Cloud through `hcloud` (sync, in threads), with budgets and retries mounted on its
session; hcloud's own retries are off so `Retry-After` and the budget decide."""

from __future__ import annotations

import datetime
import re

import hcloud
from hcloud.actions import BoundAction
from hcloud.images import Image as HImage
from hcloud.locations import Location
from hcloud.server_types import ServerType
from hcloud.servers import BoundServer, ServerCreatePublicNetwork
from hcloud.ssh_keys import SSHKey

from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.provider.action import Action, Backoff
from stellwerk.provider.budget import Budget
from stellwerk.provider.check import Probe, Report, Target, clock, new_report, refused
from stellwerk.provider.compute.base import (
    MARKER_KEY,
    CreatedServer,
    CreateServer,
    Image,
    MarketplaceApp,
    Plan,
    Region,
    Server,
)
from stellwerk.provider.compute.sdk import SdkAdapter, budget_for, cloud_config, is_public_key
from stellwerk.provider.error import (
    API_ERROR,
    CONFLICT,
    INSUFFICIENT_RESOURCES,
    INVALID_ACTION,
    INVALID_CREDENTIALS,
    NOT_FOUND,
    RATE_LIMIT_EXCEEDED,
    VALIDATION_ERROR,
    ProviderError,
)

DEFAULT_BASE_URL = "https://api.hetzner.cloud/v1"
STATUS = {
    "initializing": "provisioning",
    "starting": "starting",
    "running": "running",
    "stopping": "stopping",
    "off": "off",
    "deleting": "deleting",
    "migrating": "running",
    "rebuilding": "provisioning",
    "unknown": "unknown",
}
CODES = {
    "unauthorized": INVALID_CREDENTIALS,
    "forbidden": INVALID_CREDENTIALS,
    "token_readonly": INVALID_CREDENTIALS,
    "invalid_input": VALIDATION_ERROR,
    "json_error": VALIDATION_ERROR,
    "uniqueness_error": VALIDATION_ERROR,
    "not_found": NOT_FOUND,
    "resource_limit_exceeded": INSUFFICIENT_RESOURCES,
    "resource_unavailable": INSUFFICIENT_RESOURCES,
    "placement_error": INSUFFICIENT_RESOURCES,
    "server_limit_exceeded": INSUFFICIENT_RESOURCES,
    "conflict": CONFLICT,
    "locked": CONFLICT,
    "protected": CONFLICT,
    "rate_limit_exceeded": RATE_LIMIT_EXCEEDED,
}
FIELDS = {"server_type": "plan", "location": "region", "datacenter": "region"}
POWER = {
    "power_on": "power_on",
    "shutdown": "shutdown",
    "power_off": "power_off",
    "reboot": "reboot",
}
_LABEL = re.compile(r"^[A-Za-z0-9]([-_.A-Za-z0-9]{0,61}[A-Za-z0-9])?$")
TRAFFIC_GB = 1024**3


def map_hetzner_error(error: Exception, provider: str = "hetzner") -> ProviderError:
    if isinstance(error, hcloud.APIException):
        code = str(error.code)
        normalized = CODES.get(code, API_ERROR)
        field = None
        details = error.details if isinstance(error.details, dict) else {}
        fields = details.get("fields") or []
        if fields and isinstance(fields[0], dict):
            name = str(fields[0].get("name"))
            field = FIELDS.get(name, name)
        if code == "uniqueness_error":
            field = field or "name"
        return ProviderError(
            normalized,
            str(error.message),
            provider=provider,
            field=field,
            original={"code": code, "message": error.message, "details": details},
            # `locked`: another action runs on the resource; it passes (docs.hetzner.cloud,
            # Errors: "The item you are trying to access is locked").
            retryable=code == "locked",
        )
    return ProviderError(
        API_ERROR, f"{type(error).__name__}: {error}", provider=provider, original=repr(error)
    )


class HetznerCompute(SdkAdapter):
    name = "hetzner"
    power_actions = frozenset(POWER)

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
        poll_interval: float = 1.0,
    ) -> None:
        super().__init__(
            token=token,
            limiter=limiter,
            budgets=budgets,
            max_attempts=max_attempts,
            backoff=backoff,
        )
        self.client = hcloud.Client(
            token,
            api_endpoint=(base_url or DEFAULT_BASE_URL).rstrip("/"),
            application_name="stellwerk",
            poll_interval=poll_interval,
            timeout=timeout,
        )
        # hcloud retries on its own (up to 5 times, ignoring Retry-After); the adapter decides.
        self.client._client._retry_max_retries = 0
        budget: Budget = budget_for(limiter, "hetzner", budgets)
        key = ("hetzner", self._fingerprint)
        self._mount(self.client._client._session, lambda _method, _path: [(budget, key)])

    def _map(self, error: Exception) -> ProviderError:
        return map_hetzner_error(error, self.name)

    # --- conversion --------------------------------------------------------------------------
    def _server(self, bound: BoundServer) -> Server:
        public = bound.public_net
        ipv4 = public.ipv4.ip if public is not None and public.ipv4 is not None else None
        ipv6 = None
        if public is not None and public.ipv6 is not None:
            network = public.ipv6.ip
            ipv6 = network.split("/", 1)[0] + "1" if network.endswith("::/64") else network
        server_type = bound.server_type
        labels = bound.labels or {}
        return Server(
            id=str(bound.id),
            name=str(bound.name),
            status=STATUS.get(str(bound.status), "unknown"),
            provider_status=str(bound.status),
            region=bound.location.name if bound.location is not None else None,
            plan=server_type.name if server_type is not None else None,
            image=bound.image.name if bound.image is not None else None,
            ipv4=ipv4,
            ipv6=ipv6,
            created_at=bound.created.isoformat() if bound.created is not None else None,
            vcpus=server_type.cores if server_type is not None else None,
            memory=int(float(server_type.memory or 0) * 1024) if server_type is not None else None,
            disk=int(server_type.disk or 0) if server_type is not None else None,
            transfer=(bound.included_traffic or 0) // TRAFFIC_GB or None,
            tags=tuple(k for k, v in labels.items() if k != MARKER_KEY),
            marker=labels.get(MARKER_KEY),
        )

    def _action(self, action: BoundAction) -> Action:
        async def refresh() -> Action:
            fresh = await self._call(self.client.actions.get_by_id, action.id)
            return self._action(fresh)

        status = str(action.status)
        error = action.error.get("message") if isinstance(action.error, dict) else None
        return Action(
            id=str(action.id),
            command=str(action.command),
            status="success"
            if status == "success"
            else "error"
            if status == "error"
            else "running",
            progress=int(action.progress or 0),
            refresh=refresh,
            error=error,
        )

    # --- Compute -----------------------------------------------------------------------------
    async def verify_credentials(self) -> None:
        await self._call(self.client.servers.get_list, per_page=1)

    async def create_server(self, *, request: CreateServer) -> CreatedServer:
        labels = {MARKER_KEY: request.marker}
        for tag in request.tags:
            if _LABEL.match(tag):
                labels[tag] = ""
        raw_keys = [k for k in request.ssh_keys if is_public_key(k)]
        named = [
            SSHKey(id=int(k)) if k.isdecimal() else SSHKey(name=k)
            for k in request.ssh_keys
            if not is_public_key(k)
        ]
        user_data = cloud_config(
            root_password=request.root_password, ssh_keys=raw_keys, user_data=request.user_data
        )
        response = await self._call(
            self.client.servers.create,
            request.name,
            server_type=ServerType(name=request.plan),
            image=HImage(name=request.image),
            location=Location(name=request.region),
            ssh_keys=named or None,
            user_data=user_data,
            labels=labels,
            public_net=ServerCreatePublicNetwork(enable_ipv4=True, enable_ipv6=request.ipv6),
        )
        server = self._server(response.server)
        return CreatedServer(
            server=server,
            action=self._action(response.action) if response.action is not None else None,
            root_password=response.root_password,
        )

    async def get_server(self, *, server_id: str) -> Server:
        if not server_id.isdecimal():
            raise ProviderError(
                NOT_FOUND, f"Server with ID '{server_id}' not found", provider=self.name
            )
        return self._server(await self._call(self.client.servers.get_by_id, int(server_id)))

    async def find_server(self, *, marker: str) -> Server | None:
        servers = await self._call(
            self.client.servers.get_all, label_selector=f"{MARKER_KEY}={marker}"
        )
        return self._server(servers[0]) if servers else None

    async def list_servers(self) -> list[Server]:
        return [self._server(s) for s in await self._call(self.client.servers.get_all)]

    async def delete_server(self, *, server_id: str) -> Action | None:
        bound = BoundServer(self.client.servers, {"id": int(server_id)}, complete=False)
        return self._action(await self._call(self.client.servers.delete, bound))

    async def power(self, *, server_id: str, action: str) -> Action | None:
        method = POWER.get(action)
        if method is None:
            raise ProviderError(
                INVALID_ACTION,
                f"Hetzner Cloud has no {action} action",
                provider=self.name,
                field="action",
            )
        bound = BoundServer(self.client.servers, {"id": int(server_id)}, complete=False)
        return self._action(await self._call(getattr(self.client.servers, method), bound))

    async def list_plans(self) -> list[Plan]:
        """Server types; where they can be ordered is per location now (`locations[]`: the
        top-level `deprecated` flag is itself deprecated since 2025-09-24)."""
        moment = datetime.datetime.now(datetime.UTC)
        plans = []
        for item in await self._call(self.client.server_types.get_all):
            prices = item.prices or []
            first = prices[0] if prices else {}
            if item.locations:
                regions = tuple(
                    str(place.location.name)
                    for place in item.locations
                    if place.available is not False
                    and (
                        place.deprecation is None
                        or place.deprecation.unavailable_after is None
                        or place.deprecation.unavailable_after > moment
                    )
                )
                available = bool(regions)
            else:  # an API without per-location details
                regions = tuple(str(p["location"]) for p in prices)
                available = not item.deprecated
            plans.append(
                Plan(
                    id=str(item.name),
                    label=str(item.description or item.name),
                    vcpus=int(item.cores or 0),
                    memory=int(float(item.memory or 0) * 1024),
                    disk=int(item.disk or 0),
                    transfer=int(first.get("included_traffic", 0)) // TRAFFIC_GB or None,
                    price_hourly=float(first.get("price_hourly", {}).get("net", 0)),
                    price_monthly=float(first.get("price_monthly", {}).get("net", 0)),
                    regions=regions,
                    available=available,
                    description=str(item.description or ""),
                )
            )
        return plans

    async def list_images(self, *, type: str | None = None) -> list[Image]:
        kinds = {"system": "distribution", "app": "application"}
        images = []
        for item in await self._call(self.client.images.get_all):
            kind = kinds.get(str(item.type), "custom")
            if type is not None and kind != type:
                continue
            # One name per architecture (x86 and arm `ubuntu-24.04`): the label tells them apart.
            arm = " (arm)" if str(item.architecture) == "arm" else ""
            images.append(
                Image(
                    id=str(item.id),
                    slug=item.name,
                    label=f"{item.description or item.name}{arm}",
                    description=item.description,
                    distribution=(item.os_flavor or "").capitalize() or None,
                    public=kind != "custom",
                    min_disk_size=int(item.disk_size) if item.disk_size is not None else None,
                    type=kind,
                )
            )
        return images

    async def list_regions(self) -> list[Region]:
        return [
            Region(
                id=str(item.name),
                label=f"{item.city} ({item.description})" if item.city else str(item.description),
                available=True,
                capabilities=("servers", "volumes", "networks"),
                country=item.country,
            )
            for item in await self._call(self.client.locations.get_all)
        ]

    async def list_marketplace(self) -> list[MarketplaceApp]:
        return []

    async def aclose(self) -> None:
        self.client._client._session.close()


async def check(target: Target) -> Report:
    """Hetzner Cloud: the token (a server or zone list), the catalog, the rate limit."""
    report = new_report(target)
    token = target.credentials.get("token") or ""
    async with Probe(
        report, base_url=target.url, headers={"Authorization": f"Bearer {token}"}
    ) as probe:
        path = "/zones" if target.kind == "dns" else "/servers"
        answer = await probe.request("GET", path, params={"per_page": 1})
        if answer is None:
            return report
        if answer.status_code in (401, 403):
            refused(
                report,
                answer.status_code,
                "Create an API token with Read & Write permission in the Hetzner Cloud Console "
                f"(the project → Security → API tokens) and set it as {target.where}",
            )
            return report
        if not answer.is_success:
            report.fail(f"Hetzner answered HTTP {answer.status_code} to GET {path}")
            return report
        total = ((answer.json().get("meta") or {}).get("pagination") or {}).get("total_entries")
        what = "DNS zones" if target.kind == "dns" else "servers"
        report.ok(
            f"The token works: {total if total is not None else 'some'} {what} in the project"
        )
        if target.kind != "dns":
            types = await probe.request("GET", "/server_types", params={"per_page": 50})
            if types is not None and types.is_success:
                names = [t["name"] for t in types.json().get("server_types") or []]
                report.ok(f"{len(names)} server types on offer ({', '.join(names[:6])}, ...)")
    if report.rate_limit:
        limit = report.rate_limit
        report.ok(
            f"Rate limit {limit.get('limit')} an hour, {limit.get('remaining')} left; "
            "one request refills each second"
        )
    clock(report)
    return report

"""Linode through `linode_api4` (sync, in threads), with budgets (1600/min, and 200/min for list
calls) and retries mounted on its session; the SDK's own retries are off."""

from __future__ import annotations

import secrets
from typing import Any, Literal

import linode_api4
from linode_api4 import Instance, LinodeClient

from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.provider.action import Action, Backoff
from stellwerk.provider.check import Probe, Report, Target, clock, new_report, refused
from stellwerk.provider.compute.base import (
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
from stellwerk.provider.compute.sdk import SdkAdapter, budget_for, is_public_key
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

DEFAULT_BASE_URL = "https://api.linode.com/v4"
STATUS = {
    "provisioning": "provisioning",
    "booting": "starting",
    "running": "running",
    "shutting_down": "stopping",
    "offline": "off",
    "stopped": "off",
    "rebooting": "rebooting",
    "deleting": "deleting",
    "migrating": "running",
    "rebuilding": "provisioning",
    "cloning": "provisioning",
    "restoring": "provisioning",
    "resizing": "provisioning",
}
# Collections: paginated GETs count against the 200/min list budget as well.
COLLECTIONS = frozenset(
    {"instances", "images", "regions", "types", "stackscripts", "events", "domains", "records"}
)
FIELDS = {"type": "plan", "root_pass": "root_password", "stackscript_id": "stackscript_id"}
POWER = {"power_on": "boot", "shutdown": "shutdown", "power_off": "shutdown", "reboot": "reboot"}
# The event each power action's job records (techdocs.akamai.com, "Event", `action`).
EVENTS = {
    "power_on": "linode_boot",
    "shutdown": "linode_shutdown",
    "power_off": "linode_shutdown",
    "reboot": "linode_reboot",
}


def map_linode_error(error: Exception, provider: str = "linode") -> ProviderError:
    if isinstance(error, linode_api4.ApiError):
        status = int(error.status or 0)
        body = error.json if isinstance(error.json, dict) else {}
        entries = body.get("errors") or []
        first = entries[0] if entries and isinstance(entries[0], dict) else {}
        reason = str(first.get("reason") or (error.errors[0] if error.errors else error))
        raw_field = first.get("field")
        field = FIELDS.get(str(raw_field), str(raw_field)) if raw_field else None
        if status == 401 or status == 403:
            code = INVALID_CREDENTIALS
        elif status == 404:
            code = NOT_FOUND
        elif status == 429:
            code = RATE_LIMIT_EXCEEDED
        elif status >= 500:
            code = API_ERROR
        elif "limit" in reason.lower() or "capacity" in reason.lower():
            code = INSUFFICIENT_RESOURCES
        else:
            code = VALIDATION_ERROR
        failure = ProviderError(
            code, reason, provider=provider, field=field, original=body or str(error)
        )
        failure.http_status = status
        return failure
    if isinstance(error, ValueError):
        return ProviderError(VALIDATION_ERROR, str(error), provider=provider)
    return ProviderError(
        API_ERROR, f"{type(error).__name__}: {error}", provider=provider, original=repr(error)
    )


class LinodeCompute(SdkAdapter):
    name = "linode"
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
        self.poll_interval = poll_interval
        self.client = LinodeClient(
            token,
            base_url=(base_url or DEFAULT_BASE_URL).rstrip("/"),
            user_agent="stellwerk",
            retry=False,
        )
        self.client.session.request = _with_timeout(self.client.session.request, timeout)
        main = budget_for(limiter, "linode", budgets)
        listing = budget_for(limiter, "linode:list", budgets)
        key = ("linode", self._fingerprint)

        def pick(method: str, path: str) -> list[tuple[Any, tuple[str, ...]]]:
            chosen: list[tuple[Any, tuple[str, ...]]] = [(main, key)]
            if method == "GET" and path.rstrip("/").rsplit("/", 1)[-1] in COLLECTIONS:
                chosen.append((listing, (*key, "list")))
            return chosen

        self._mount(self.client.session, pick)

    def _map(self, error: Exception) -> ProviderError:
        return map_linode_error(error, self.name)

    def _server(self, instance: Instance) -> Server:
        data: dict[str, Any] = instance._raw_json or {}
        specs = data.get("specs") or {}
        marker, tags = split_marker(str(t) for t in data.get("tags") or [])
        ipv4 = (data.get("ipv4") or [None])[0]
        ipv6 = data.get("ipv6")
        return Server(
            id=str(data["id"]),
            name=str(data.get("label", "")),
            status=STATUS.get(str(data.get("status")), "unknown"),
            provider_status=str(data.get("status")),
            region=data.get("region"),
            plan=data.get("type"),
            image=data.get("image"),
            ipv4=ipv4,
            ipv6=ipv6.split("/", 1)[0] if isinstance(ipv6, str) else None,
            created_at=data.get("created"),
            vcpus=specs.get("vcpus"),
            memory=specs.get("memory"),
            disk=int(specs["disk"]) // 1024 if specs.get("disk") is not None else None,
            transfer=specs.get("transfer"),
            tags=tags,
            marker=marker,
        )

    def _follow(self, server_id: str, command: str, target: str) -> Action:
        """Linode has no action objects: an action that follows the instance's status."""

        async def refresh() -> Action:
            server = await self.get_server(server_id=server_id)
            done = server.status == target
            return Action(
                id=f"{server_id}:{command}",
                command=command,
                status="success" if done else "running",
                progress=100 if done else 50,
                refresh=refresh,
            )

        return Action(
            id=f"{server_id}:{command}",
            command=command,
            status="running",
            progress=0,
            refresh=refresh,
        )

    def _events(self, server_id: str, event: str) -> list[dict[str, Any]]:
        """The instance's events of one kind (newest first), as linode_api4's poller asks."""
        filters = {"entity.id": int(server_id), "entity.type": "linode", "action": event}
        answer = self.client.get("/account/events", filters=filters)
        items = answer.get("data") if isinstance(answer, dict) else None
        return sorted(items or [], key=lambda e: int(e["id"]), reverse=True)

    def _follow_event(self, server_id: str, command: str, event: str, after: int) -> Action:
        """Linode queues power jobs: a reboot shows `running` before `rebooting`, so the action
        follows the job's event (newer than `after`) until it is finished or failed."""

        async def refresh() -> Action:
            events = await self._call(self._events, server_id, event)
            job = next((e for e in events if int(e["id"]) > after), None)
            state = str(job.get("status")) if job else "scheduled"
            status: Literal["running", "success", "error"] = (
                "success" if state == "finished" else "error" if state == "failed" else "running"
            )
            return Action(
                id=f"{server_id}:{command}",
                command=command,
                status=status,
                progress=int((job or {}).get("percent_complete") or 0),
                refresh=refresh,
                error=f"Linode's {event} job failed" if status == "error" else None,
            )

        return Action(
            id=f"{server_id}:{command}",
            command=command,
            status="running",
            progress=0,
            refresh=refresh,
        )

    async def verify_credentials(self) -> None:
        await self._call(lambda: self.client.profile().username)

    async def create_server(self, *, request: CreateServer) -> CreatedServer:
        password = request.root_password or secrets.token_urlsafe(24)
        options: dict[str, Any] = {
            "image": request.image,
            "label": request.name,
            "root_pass": password,
            "tags": [*request.tags, marker_tag(request.marker)],
            "backups_enabled": request.backups,
            "private_ip": request.private_ip,
        }
        keys = [k for k in request.ssh_keys if is_public_key(k)]
        if keys:
            options["authorized_keys"] = keys
        if request.user_data:
            # Linode's metadata service hands it to cloud-init (base64 on the wire).
            options["metadata"] = self.client.linode.build_instance_metadata(
                user_data=request.user_data
            )
        if request.stackscript_id is not None:
            options["stackscript"] = request.stackscript_id
            options["stackscript_data"] = dict(request.stackscript_data or {})
        result = await self._call(
            self.client.linode.instance_create, request.plan, request.region, **options
        )
        instance = result[0] if isinstance(result, tuple) else result
        server = self._server(instance)
        return CreatedServer(
            server=server,
            action=self._follow(server.id, "create", "running"),
            root_password=None if request.root_password else password,
        )

    async def get_server(self, *, server_id: str) -> Server:
        if not server_id.isdecimal():
            raise ProviderError(NOT_FOUND, "Not found", provider=self.name)

        def load() -> Instance:
            instance = Instance(self.client, int(server_id))
            instance._api_get()
            return instance

        return self._server(await self._call(load))

    async def find_server(self, *, marker: str) -> Server | None:
        tag = marker_tag(marker)
        found = await self._call(
            lambda: list(self.client.linode.instances(Instance.tags.contains(tag)))
        )
        for instance in found:
            server = self._server(instance)
            if server.marker == marker:
                return server
        return None

    async def list_servers(self) -> list[Server]:
        found = await self._call(lambda: list(self.client.linode.instances()))
        return [self._server(i) for i in found]

    async def delete_server(self, *, server_id: str) -> Action | None:
        await self._call(lambda: Instance(self.client, int(server_id)).delete())
        return None

    async def power(self, *, server_id: str, action: str) -> Action | None:
        method = POWER.get(action)
        if method is None:
            raise ProviderError(
                INVALID_ACTION, f"Linode has no {action} action", provider=self.name, field="action"
            )
        event = EVENTS[action]
        before = await self._call(self._events, server_id, event)
        after = int(before[0]["id"]) if before else 0
        await self._call(lambda: getattr(Instance(self.client, int(server_id)), method)())
        return self._follow_event(server_id, action, event, after)

    async def list_plans(self) -> list[Plan]:
        types = await self._call(lambda: [t._raw_json for t in self.client.linode.types()])
        return [
            Plan(
                id=str(t["id"]),
                label=str(t.get("label", t["id"])),
                vcpus=int(t.get("vcpus", 0)),
                memory=int(t.get("memory", 0)),
                disk=int(t.get("disk", 0)) // 1024,
                transfer=t.get("transfer"),
                price_hourly=float((t.get("price") or {}).get("hourly") or 0),
                price_monthly=float((t.get("price") or {}).get("monthly") or 0),
                description=str(t.get("class", "")),
            )
            for t in types
        ]

    async def list_images(self, *, type: str | None = None) -> list[Image]:
        raw = await self._call(lambda: [i._raw_json for i in self.client.images()])
        images = []
        for item in raw:
            kind = "distribution" if item.get("is_public") else "custom"
            if type is not None and kind != type:
                continue
            size = item.get("size")
            images.append(
                Image(
                    id=str(item["id"]),
                    slug=str(item["id"]),
                    label=str(item.get("label", item["id"])),
                    description=item.get("description") or None,
                    distribution=item.get("vendor"),
                    public=bool(item.get("is_public")),
                    min_disk_size=-(-int(size) // 1024) if size else None,
                    type=kind,
                )
            )
        return images

    async def list_regions(self) -> list[Region]:
        raw = await self._call(lambda: [r._raw_json for r in self.client.regions()])
        return [
            Region(
                id=str(r["id"]),
                label=str(r.get("label", r["id"])),
                available=r.get("status", "ok") == "ok",
                capabilities=tuple(r.get("capabilities") or ()),
                country=r.get("country"),
            )
            for r in raw
        ]

    async def list_marketplace(self) -> list[MarketplaceApp]:
        """The account's own StackScripts (Linode's public ones number in the thousands)."""
        raw = await self._call(
            lambda: [s._raw_json for s in self.client.linode.stackscripts(mine_only=True)]
        )
        return [
            MarketplaceApp(
                id=str(s["id"]),
                slug=str(s["id"]),
                name=str(s.get("label", "")),
                description=s.get("description") or None,
                category="StackScript",
                image_slug=None,
                compatible_images=tuple(s.get("images") or ()),
                user_defined_fields=tuple(s.get("user_defined_fields") or ()),
            )
            for s in raw
        ]

    async def aclose(self) -> None:
        self.client.session.close()


def _with_timeout(request: Any, timeout: float) -> Any:
    def send(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", timeout)
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = timeout
        return request(*args, **kwargs)

    return send


__all__ = ["LinodeCompute"]


async def check(target: Target) -> Report:
    """Linode: the token (the profile), its scopes (the instance list), the catalog."""
    report = new_report(target)
    token = target.credentials.get("token") or ""
    how = (
        "Create a personal access token (Cloud Manager → Profile → API Tokens) with Read/Write "
        f"for Linodes, and Read for Images, StackScripts and Events, and set it as {target.where}"
    )
    async with Probe(
        report, base_url=target.url, headers={"Authorization": f"Bearer {token}"}
    ) as probe:
        profile = await probe.request("GET", "/profile")
        if profile is None:
            return report
        if profile.status_code in (401, 403):
            refused(report, profile.status_code, how)
            return report
        if not profile.is_success:
            report.fail(f"Linode answered HTTP {profile.status_code} to GET /profile")
            return report
        data = profile.json()
        report.ok(f"The token works (user {data.get('username')})")
        if data.get("restricted"):
            report.warn(
                "The user is restricted: it needs the grant to add Linodes and read/write on them",
                "Cloud Manager → Users → the user → Permissions",
            )
        instances = await probe.request("GET", "/linode/instances", params={"page_size": 25})
        if instances is not None and instances.status_code in (401, 403):
            report.fail("The token may not read Linodes", how)
        elif instances is not None and instances.is_success:
            report.ok(f"{instances.json().get('results', 0)} Linodes in the account")
        types = await probe.request("GET", "/linode/types", params={"page_size": 100})
        if types is not None and types.is_success:
            report.ok(f"{types.json().get('results', 0)} plans on offer")
    if report.rate_limit:
        report.ok(
            f"Rate limit {report.rate_limit.get('limit')} a minute for this call, "
            f"{report.rate_limit.get('remaining')} left"
        )
    clock(report)
    return report

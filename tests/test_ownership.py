"""Ownership between customers, generated from the route table.

Customer A owns one of every kind of object a customer can hold. Every route that takes such an
object's id and is open to customers is called by another customer B (404, as if the object did
not exist), by A (reaches it), and by staff (reaches it, except a customer's DNS zone, which is
not the company's). Every other route with an id in its path must be closed to customers: a new
route that takes an id fails here until it is classified.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from stellwerk.identity.role import Role
from stellwerk.models import (
    ApiToken,
    DnsZone,
    Operation,
    Project,
    RedirectDomain,
    RedirectGroup,
    RegistrarDomain,
    User,
    VpsInstance,
)
from stellwerk.runtime import Runtime
from tests.factories import bearer, create_staff, create_token, create_user, jwt_for
from tests.routes import RouteInfo
from tests.test_authorization import ROUTES, _browser_session, rule_of


@dataclass(frozen=True)
class Owned:
    """An object customer A owns, and the path parameter values that name it."""

    kind: str
    values: dict[str, str]
    staff_sees_it: bool = True


# (path prefix, parameter) → the kind of owned object it names.
OWNED_PARAMS: dict[tuple[str, str], str] = {
    ("/api/vps/", "instance_id"): "server",
    ("/ui/servers/", "instance_id"): "server",
    ("/api/projects/", "project_id"): "project",
    ("/ui/projects/", "project_id"): "project",
    ("/api/v1/domains/", "domain_id"): "redirect",
    ("/api/domains/", "domain_id"): "redirect",
    ("/ui/redirects/", "domain_id"): "redirect",
    ("/api/v1/groups/", "group_id"): "redirect_group",
    ("/ui/redirects/groups/", "group_id"): "redirect_group",
    ("/api/dns/zones/", "zone"): "zone",
    ("/ui/dns/", "zone"): "zone",
    ("/api/registrar/domains/", "name"): "registrar_domain",
    ("/ui/domains/", "name"): "registrar_domain",
    ("/api/tokens/", "token_id"): "token",
    ("/ui/tokens/", "token_id"): "token",
    ("/api/operations/", "operation_id"): "operation",
    ("/ui/operations/", "operation_id"): "operation",
}
# Parameters that name no owned object (a record inside a zone: the zone decides; a format).
OTHER_PARAMS = {"record_id": "123", "kind": "svg"}
# Actions on owned objects that staff may not take on a customer's (they see them): a customer's
# tokens are the customer's; an operation is stopped or answered by whoever started it (or an
# admin).
STAFF_REFUSED = {
    "DELETE /api/tokens/{token_id}",
    "POST /ui/tokens/{token_id}/revoke",
    "POST /api/operations/{operation_id}/cancel",
    "POST /ui/operations/{operation_id}/cancel",
    "POST /api/operations/{operation_id}/answer",
    "POST /ui/operations/{operation_id}/answer",
}
# Valid bodies, so that the answer is about the object, not about the body.
BODIES: dict[str, dict[str, Any]] = {
    "POST /api/vps/{instance_id}/action": {"action": "reboot"},
    "POST /api/dns/zones/{zone}/records": {
        "name": "www",
        "type": "A",
        "content": "192.0.2.7",
        "ttl": 3600,
    },
    "PUT /api/dns/zones/{zone}/records/{record_id}": {"content": "192.0.2.8"},
    "PUT /api/v1/domains/{domain_id}": {"target_url": "https://example.net"},
    "PATCH /api/v1/domains/{domain_id}": {"target_url": "https://example.net"},
    "POST /api/operations/{operation_id}/answer": {"answer": "continue"},
    "PATCH /api/projects/{project_id}": {"plugins": ["core"]},
    "POST /api/projects/{project_id}/redeploy": {"branch": "main"},
}


def _params(route: RouteInfo) -> list[str]:
    return [p.split(":")[0] for p in re.findall(r"\{([^}]+)\}", route.path)]


def _owned_kind(route: RouteInfo) -> str | None:
    prefix = route.path.split("{")[0]
    kinds = {OWNED_PARAMS[(prefix, p)] for p in _params(route) if (prefix, p) in OWNED_PARAMS}
    assert len(kinds) <= 1, route.id
    return next(iter(kinds), None)


def _open_to_customers(route: RouteInfo) -> bool:
    rule = rule_of(route)
    assert rule is not None
    return rule.kind in ("any", "login") or (
        rule.kind in ("scope", "web") and rule.allows(Role.CUSTOMER)
    )


ID_ROUTES = [r for r in ROUTES if _params(r)]
OWNED_ROUTES = [r for r in ID_ROUTES if _owned_kind(r) is not None and _open_to_customers(r)]


@pytest.mark.parametrize("route", ID_ROUTES, ids=[r.id for r in ID_ROUTES])
def test_every_route_with_an_id_is_owner_scoped_or_closed_to_customers(route: RouteInfo) -> None:
    if _owned_kind(route) is not None:
        return
    assert not _open_to_customers(route), (
        f"{route.id} takes an id and is open to customers: scope it by owner in its repository "
        "and list its parameter in OWNED_PARAMS"
    )


async def _own_everything(runtime: Runtime, owner: User) -> dict[str, Owned]:
    suffix = uuid.uuid4().hex[:8]
    async with runtime.database.session() as session:
        server = VpsInstance(
            user_id=owner.id, label=f"srv-{suffix}", status="off", plan_specs={}, options={}
        )
        project = Project(
            name=f"p-{suffix}",
            domain=f"p-{suffix}.example",
            plugins=[],
            dns_records=[],
            owner_user_id=owner.id,
            state="error",
        )
        redirect = RedirectDomain(
            owner_id=owner.id, domain=f"r-{suffix}.example", target_url="https://example.org"
        )
        group = RedirectGroup(owner_id=owner.id, name=f"g-{suffix}")
        zone = DnsZone(name=f"z-{suffix}.example", provider="powerdns", owner_user_id=owner.id)
        registrar = RegistrarDomain(
            name=f"d-{suffix}.example",
            provider="inwx",
            status="active",
            origin="register",
            owner_user_id=owner.id,
        )
        operation = Operation(
            kind="server.create",
            idempotency_key=f"k-{suffix}",
            owner_user_id=owner.id,
            status="completed",
            input={},
        )
        session.add_all([server, project, redirect, group, zone, registrar, operation])
        await session.flush()
        objects = {
            "server": Owned("server", {"instance_id": str(server.id)}),
            "project": Owned("project", {"project_id": str(project.id)}),
            "redirect": Owned("redirect", {"domain_id": str(redirect.id)}),
            "redirect_group": Owned("redirect_group", {"group_id": str(group.id)}),
            "zone": Owned("zone", {"zone": zone.name}, staff_sees_it=False),
            "registrar_domain": Owned("registrar_domain", {"name": registrar.name}),
            "operation": Owned("operation", {"operation_id": str(operation.id)}),
        }
    await create_token(runtime, owner, ["read:servers"])
    async with runtime.database.session() as session:
        token_id = await session.scalar(
            select(func.max(ApiToken.id)).where(ApiToken.user_id == owner.id)
        )
    objects["token"] = Owned("token", {"token_id": str(token_id)})
    return objects


def _path(route: RouteInfo, owned: Owned) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        if name in OTHER_PARAMS:
            return OTHER_PARAMS[name]
        return owned.values[name]

    return re.sub(r"\{([^}]+)\}", value, route.path)


async def _state(runtime: Runtime) -> list[Any]:
    """Everything the calls could change, read back as the system sees it."""
    async with runtime.database.session() as session:
        rows: list[Any] = []
        models = (
            VpsInstance,
            Project,
            RedirectDomain,
            RedirectGroup,
            DnsZone,
            RegistrarDomain,
            Operation,
        )
        for model in models:
            for row in (await session.scalars(select(model))).all():
                values = {c.key: getattr(row, c.key) for c in model.__table__.columns}
                # What the periodic jobs (DNS re-checks, target checks) write meanwhile.
                for column in (
                    "updated_at",
                    "dns_checked_at",
                    "target_status",
                    "target_check",
                    "target_checked_at",
                    "target_failing_since",
                ):
                    values.pop(column, None)
                rows.append((model.__name__, values))
        tokens = await session.scalars(select(ApiToken.id, ApiToken.revoked_at))
        rows.append(("tokens", sorted(str(t) for t in tokens.all())))
        return sorted(rows, key=repr)


@pytest.mark.parametrize("route", OWNED_ROUTES, ids=[r.id for r in OWNED_ROUTES])
async def test_another_customers_object_is_not_found(
    route: RouteInfo, client: httpx.AsyncClient, runtime: Runtime
) -> None:
    owner = await create_user(runtime)
    other = await create_user(runtime)
    staff = await create_staff(runtime)
    kind = _owned_kind(route)
    assert kind is not None
    web = rule_of(route).kind == "web"  # type: ignore[union-attr]

    async def call(user: User, owned: Owned) -> httpx.Response:
        client.cookies.clear()
        headers: dict[str, str]
        if web:
            cookie, csrf = await _browser_session(runtime, user)
            client.cookies.set("stellwerk_session", cookie)
            headers = {"X-CSRF-Token": csrf}
        else:
            headers = bearer(jwt_for(runtime, user))
        body: dict[str, Any] = {}
        if route.method in ("POST", "PUT", "PATCH"):
            body = {"json": BODIES.get(route.id, {})}
        return await client.request(
            route.method, _path(route, owned), headers=headers, follow_redirects=False, **body
        )

    def reached(response: httpx.Response) -> bool:
        """The caller got to the object (a later verdict, such as its provider being gone, is
        about the object, not about who asks)."""
        login = response.status_code == 303 and response.headers["location"].startswith("/login")
        if response.status_code == 404 and not web:
            return response.json().get("code") not in ("NOT_FOUND", "not_found")
        return response.status_code not in (401, 403, 404) and not login

    owned = (await _own_everything(runtime, owner))[kind]
    before = await _state(runtime)
    refused = await call(other, owned)
    assert refused.status_code == 404, (
        f"{route.id} as another customer: {refused.status_code} {refused.text[:200]}"
    )
    assert await _state(runtime) == before, "another customer's call changed something"
    answer = await call(owner, owned)
    assert reached(answer), f"{route.id} as its owner: {answer.status_code} {answer.text[:200]}"

    # Staff, on a fresh object of the same customer (the owner's call may have deleted this one).
    owned = (await _own_everything(runtime, owner))[kind]
    answer = await call(staff, owned)
    if owned.staff_sees_it and route.id not in STAFF_REFUSED:
        assert reached(answer), f"{route.id} as staff: {answer.status_code} {answer.text[:200]}"
    else:
        assert answer.status_code == 404, f"{route.id} as staff: {answer.status_code}"
    await _operations_settled(runtime)


async def _operations_settled(runtime: Runtime, seconds: float = 20.0) -> None:
    """Let the operations the calls started end (bounded): tables are emptied after each test
    and ids reused, so a workflow still running would write into the next test's objects."""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        async with runtime.database.session() as session:
            busy = await session.scalar(
                select(func.count())
                .select_from(Operation)
                .where(Operation.status.in_(("queued", "running")))
            )
        if not busy:
            return
        await asyncio.sleep(0.1)


ALL_OWNED_KINDS: set[str] = set(OWNED_PARAMS.values())


def test_every_owned_kind_has_routes() -> None:
    assert {_owned_kind(r) for r in OWNED_ROUTES} == ALL_OWNED_KINDS

"""Roles: who a person is to the company, and what each role may do.

Three roles, chosen by an admin per user:

- `customer` (the default for new users): orders servers from the active plans, runs projects and
  redirect domains, and edits the DNS of the zones that are theirs. Sees only their own things.
- `staff`: the company's employees. Everything a customer may do, on everyone's servers,
  projects and redirects; the license server, its admin panel and the leads CRM; reading the
  module manager and the provider costs behind the plans.
- `admin`: everything, including what spends the company's money or runs code on the host
  (registering domains, provider accounts, plans, modules) and who may do what (users, the
  system API key, the audit log).

A role grants scopes; an API token holds at most its owner's role's scopes, checked on every
request, so a role change takes effect on every existing token at once. Which rows a role
reaches (own, the company's, all) is decided by each domain's repository from the caller's
`Principal`. `ROLE_TABLE` is the table docs/security.md shows; the authorization tests are
generated from `ROLE_SCOPES` and the route table.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from stellwerk.identity.scope import ADMIN, ALL_SCOPES


class Role(enum.StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    ADMIN = "admin"


ROLES: tuple[str, ...] = tuple(role.value for role in Role)
DEFAULT_ROLE = Role.CUSTOMER
# Earlier versions knew `user` (a non-admin): it is a customer now.
LEGACY_ROLES: dict[str, Role] = {"user": Role.CUSTOMER}


def _rw(*resources: str) -> frozenset[str]:
    return frozenset(f"{verb}:{r}" for r in resources for verb in ("read", "write"))


_CUSTOMER = _rw("domains", "servers", "dns", "projects") | {"read:analytics", "read:hits"}
_STAFF = (
    _CUSTOMER
    | _rw("licenses", "customers", "resources", "releases", "leads")
    | {"read:modules", "read:providers"}
)

ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.CUSTOMER: _CUSTOMER,
    Role.STAFF: _STAFF,
    Role.ADMIN: ALL_SCOPES,
}


def parse_role(value: str) -> Role:
    """A role from its name (or a legacy name); ValueError for anything else."""
    if value in LEGACY_ROLES:
        return LEGACY_ROLES[value]
    return Role(value)


def role_of(value: str) -> Role:
    """The role stored on a user; an unknown value counts as the least one."""
    try:
        return parse_role(value)
    except ValueError:
        return Role.CUSTOMER


def scopes_for_role(role: str) -> frozenset[str]:
    return ROLE_SCOPES[role_of(role)]


_RANK = {Role.CUSTOMER: 0, Role.STAFF: 1, Role.ADMIN: 2}


def role_at_least(role: Role, minimum: Role) -> bool:
    return _RANK[role] >= _RANK[minimum]


def is_company_role(role: str) -> bool:
    """Staff or admin: someone who works for the company."""
    return role_at_least(role_of(role), Role.STAFF)


def is_admin_role(role: str) -> bool:
    return ADMIN in scopes_for_role(role)


@dataclass(frozen=True)
class Capability:
    """One row of the role table: what a role may do, in words (own, all, company, yes, —)."""

    what: str
    customer: str
    staff: str
    admin: str


ROLE_TABLE: tuple[Capability, ...] = (
    Capability("own profile, password and API tokens", "own", "own", "all"),
    Capability(
        "servers: order from active plans at the plan's price (customers within their quota), "
        "power actions, delete",
        "own",
        "all",
        "all",
    ),
    Capability(
        "provider costs: base price, markup, provider prices and sizes without a plan",
        "—",
        "read",
        "all",
    ),
    Capability("order servers of a provider size without a plan", "—", "—", "yes"),
    Capability("redirect domains, their stats and hits", "own", "all", "all"),
    Capability(
        "DNS zones and records",
        "own zones (their projects', their domains')",
        "company zones",
        "all",
    ),
    Capability(
        "projects (buying their domain or a server: admins; choosing the Coolify server: staff)",
        "own",
        "all",
        "all",
    ),
    Capability("registrar: check availability", "yes", "yes", "yes"),
    Capability("registrar domains: list and show", "own", "all", "all"),
    Capability(
        "registrar: register, transfer, contacts, default contact (spends the company's money)",
        "—",
        "—",
        "yes",
    ),
    Capability(
        "license server admin panel, customers, releases, resources, leads CRM", "—", "yes", "yes"
    ),
    Capability("module manager: read", "—", "yes", "yes"),
    Capability(
        "module manager: repositories, install, update, remove (runs code on the host)",
        "—",
        "—",
        "yes",
    ),
    Capability("operations: see (cancel: own, admins all)", "own", "all", "all"),
    Capability(
        "providers, plans and prices, users and roles, system API key, audit log", "—", "—", "yes"
    ),
)


def role_table_markdown() -> str:
    """ROLE_TABLE as the markdown table docs/security.md holds."""
    lines = ["| capability | customer | staff | admin |", "|---|---|---|---|"]
    lines += [f"| {c.what} | {c.customer} | {c.staff} | {c.admin} |" for c in ROLE_TABLE]
    return "\n".join(lines)

"""The scope vocabulary shared by every surface.

`read:X` and `write:X` for each resource below, plus `admin`, which grants everything and is
required for `/api/admin/...`. `write:X` does not imply `read:X`.
"""

from __future__ import annotations

RESOURCES: tuple[str, ...] = (
    "domains",  # redirect domains
    "analytics",
    "hits",
    "servers",
    "providers",
    "dns",  # registrar domains, contacts and DNS records
    "projects",
    "licenses",
    "customers",
    "resources",
    "releases",
    "leads",
    "modules",
)

ADMIN = "admin"
ALL_SCOPES: frozenset[str] = frozenset(
    {f"{verb}:{resource}" for resource in RESOURCES for verb in ("read", "write")} | {ADMIN}
)

# What a non-admin user works with: their own servers, redirects, DNS, projects and modules.
# The license server, its admin panel, the CRM and provider configuration are for admins.
_USER_RESOURCES = ("domains", "analytics", "hits", "servers", "dns", "projects", "modules")
USER_SCOPES: frozenset[str] = frozenset(
    {f"{verb}:{resource}" for resource in _USER_RESOURCES for verb in ("read", "write")}
) - {"write:analytics", "write:hits"}


def scopes_for_role(role: str) -> frozenset[str]:
    return ALL_SCOPES if role == "admin" else USER_SCOPES


def grants(held: frozenset[str], required: str) -> bool:
    return ADMIN in held or required in held


def sorted_scopes(scopes: frozenset[str] | set[str]) -> list[str]:
    return sorted(scopes, key=lambda s: (s == ADMIN, s.split(":")[-1], s))

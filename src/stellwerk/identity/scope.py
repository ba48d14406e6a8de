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


def grants(held: frozenset[str], required: str) -> bool:
    return ADMIN in held or required in held


def sorted_scopes(scopes: frozenset[str] | set[str]) -> list[str]:
    return sorted(scopes, key=lambda s: (s == ADMIN, s.split(":")[-1], s))

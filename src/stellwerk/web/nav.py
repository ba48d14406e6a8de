"""The navigation: every area's pages register here, in the order people look for them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    # Shown to viewers whose role grants this scope (None: everyone logged in).
    scope: str | None = None


NAV: list[NavItem] = [
    NavItem("Dashboard", "/ui/"),
    NavItem("Operations", "/ui/operations"),
    NavItem("Servers", "/ui/servers", "read:servers"),
    NavItem("Projects", "/ui/projects", "read:projects"),
    NavItem("Modules", "/ui/modules", "read:modules"),
    NavItem("Redirects", "/ui/redirects", "read:domains"),
    NavItem("Domains", "/ui/domains", "read:dns"),
    NavItem("DNS", "/ui/dns", "read:dns"),
    NavItem("Providers", "/ui/providers", "admin"),
    NavItem("Plans", "/ui/plans", "admin"),
    NavItem("Licenses", "/ui/licenses", "read:licenses"),
    NavItem("Customers", "/ui/customers", "read:customers"),
    NavItem("Resources", "/ui/resources", "read:resources"),
    NavItem("Releases", "/ui/releases", "read:releases"),
    NavItem("Client apps", "/ui/client-configs", "read:licenses"),
    NavItem("Leads", "/leads/", "read:leads"),
    NavItem("API tokens", "/ui/tokens"),
    NavItem("Users", "/ui/users", "admin"),
    NavItem("License API key", "/ui/api-key", "admin"),
    NavItem("Audit log", "/ui/audit", "admin"),
]

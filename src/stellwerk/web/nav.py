"""The navigation: every area's pages register here, in the order people look for them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    admin_only: bool = False


NAV: list[NavItem] = [
    NavItem("Dashboard", "/ui/"),
    NavItem("Operations", "/ui/operations"),
    NavItem("Servers", "/ui/servers"),
    NavItem("Projects", "/ui/projects"),
    NavItem("Modules", "/ui/modules"),
    NavItem("Redirects", "/ui/redirects"),
    NavItem("Domains", "/ui/domains"),
    NavItem("DNS", "/ui/dns"),
    NavItem("Providers", "/ui/providers", admin_only=True),
    NavItem("Plans", "/ui/plans", admin_only=True),
    NavItem("Licenses", "/ui/licenses", admin_only=True),
    NavItem("Customers", "/ui/customers", admin_only=True),
    NavItem("Resources", "/ui/resources", admin_only=True),
    NavItem("Releases", "/ui/releases", admin_only=True),
    NavItem("Client apps", "/ui/client-configs", admin_only=True),
    NavItem("Leads", "/leads/", admin_only=True),
    NavItem("API tokens", "/ui/tokens"),
    NavItem("Users", "/ui/users", admin_only=True),
    NavItem("License API key", "/ui/api-key", admin_only=True),
    NavItem("Audit log", "/ui/audit", admin_only=True),
]

"""The navigation: every area's pages register here, grouped the way people look for them.

Each entry names the scope a viewer's role must grant to see it; a group whose entries are all
hidden is not shown. Only pages that exist are linked (a test follows every entry).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class NavItem:
    label: str
    path: str
    # Shown to viewers whose role grants this scope (None: everyone logged in).
    scope: str | None = None

    def is_current(self, path: str) -> bool:
        """Whether `path` is this entry's page or one below it (the dashboard only itself)."""
        if self.path == "/ui/":
            return path in ("/ui", "/ui/")
        base = self.path.rstrip("/")
        return path == base or path.startswith(base + "/")


@dataclass(frozen=True)
class NavGroup:
    label: str
    items: tuple[NavItem, ...]
    # What the group is called for viewers who see none of its admin pages (e.g. "Account").
    others_label: str | None = None

    def visible(self, may: Callable[[str], bool]) -> list[NavItem]:
        return [item for item in self.items if item.scope is None or may(item.scope)]

    def label_for(self, may: Callable[[str], bool]) -> str:
        if self.others_label is None or any(i.scope == "admin" for i in self.visible(may)):
            return self.label
        return self.others_label


NAV: tuple[NavGroup, ...] = (
    NavGroup(
        "",
        (
            NavItem("Dashboard", "/ui/"),
            NavItem("Operations", "/ui/operations"),
        ),
    ),
    NavGroup(
        "Hosting",
        (
            NavItem("Servers", "/ui/servers", "read:servers"),
            NavItem("Projects", "/ui/projects", "read:projects"),
            NavItem("Domains", "/ui/domains", "read:dns"),
            NavItem("DNS", "/ui/dns", "read:dns"),
            NavItem("Modules", "/ui/modules", "read:modules"),
        ),
    ),
    NavGroup(
        "Redirects",
        (
            NavItem("Redirects", "/ui/redirects", "read:domains"),
            NavItem("Hits", "/ui/redirects/summary", "read:domains"),
        ),
    ),
    NavGroup(
        "Licensing",
        (
            NavItem("Licenses", "/ui/licenses", "read:licenses"),
            NavItem("Customers", "/ui/customers", "read:customers"),
            NavItem("Releases", "/ui/releases", "read:releases"),
            NavItem("Resources", "/ui/resources", "read:resources"),
            NavItem("Client apps", "/ui/client-configs", "read:licenses"),
            NavItem("Leads", "/leads/", "read:leads"),
        ),
    ),
    NavGroup(
        "Admin",
        (
            NavItem("Providers", "/ui/providers", "admin"),
            NavItem("Plans", "/ui/plans", "admin"),
            NavItem("Users", "/ui/users", "admin"),
            NavItem("API tokens", "/ui/tokens"),
            NavItem("License API key", "/ui/api-key", "admin"),
            NavItem("Webhooks", "/ui/webhooks", "admin"),
            NavItem("Notifications", "/ui/notifications", "admin"),
            NavItem("Import", "/ui/import", "admin"),
            NavItem("Audit log", "/ui/audit", "admin"),
        ),
        others_label="Account",
    ),
)


def items() -> list[NavItem]:
    """Every entry, in order."""
    return [item for group in NAV for item in group.items]


def current(path: str) -> NavItem | None:
    """The entry the page at `path` belongs to: the longest matching path wins (the redirect
    statistics below the redirect domains)."""
    matches = [item for item in items() if item.is_current(path)]
    return max(matches, key=lambda item: len(item.path), default=None)

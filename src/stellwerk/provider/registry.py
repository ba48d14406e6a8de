"""Every provider Stellwerk talks to, one entry each: the one place a provider is plugged in.

An entry says how to open the provider's adapters, where its API answers, its request budgets,
how it announces rate limits, its sandbox, a compute provider's catalog routes and what it can
do. Modules are named by path and imported only when used, so reading the registry loads no SDK
and no sandbox. Domain code asks the registry (and `connect`, which opens adapters from the
settings); it never imports an adapter's or a sandbox's module, nor a sandbox's seed values.

Adding a provider: `provider/<kind>/<name>/adapter.py`, `.../sandbox.py`, one entry below and
its tests (docs/providers.md, "Adding a provider").
"""

from __future__ import annotations

import functools
import importlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlparse

if TYPE_CHECKING:
    from stellwerk.config import Settings

Kind = Literal["compute", "dns", "registrar", "paas"]
KINDS: tuple[Kind, ...] = ("compute", "dns", "registrar", "paas")


# What sandbox-mode adapters authenticate with (every sandbox accepts `sandbox-` credentials).
SANDBOX_SECRET = "sandbox-stellwerk"


@dataclass(frozen=True)
class Endpoint:
    """Where a settings-configured provider answers: its API with the configured credentials,
    or (`sandbox`) its sandbox with the sandbox credentials."""

    provider: str
    url: str
    sandbox: bool


@dataclass(frozen=True)
class SandboxSpec:
    """A provider's sandbox: its app factory (gets the state directory), the suffix its official
    client expects after `host:port`, and its port offset from `STELLWERK_SANDBOX_PORT`."""

    app: str
    suffix: str
    port_offset: int
    # Ids the sandbox comes with, which sandbox mode uses where real mode needs a setting.
    seeds: Mapping[str, str] = field(default_factory=dict)
    # Where the sandbox answers for a deployed application's health (`{root}`, `{domain}`).
    health_url: str | None = None


@dataclass(frozen=True)
class Rule:
    """What a provider accepts for a name or a tag, and how to say it."""

    pattern: re.Pattern[str]
    description: str

    def accepts(self, value: str) -> bool:
        return self.pattern.fullmatch(value) is not None


@dataclass(frozen=True)
class CatalogRoutes:
    """A compute provider's catalog endpoints, `/api/vps/<name>/<segment>`, and the key the
    plans list is answered under."""

    plans: str
    plans_key: str
    regions: str
    marketplace: str | None = None
    marketplace_key: Literal["apps", "stackscripts"] | None = None


@dataclass(frozen=True)
class Capabilities:
    power_actions: frozenset[str]
    # `appSlug` (DigitalOcean 1-Click apps) or `stackscriptId` (Linode StackScripts).
    marketplace: Literal["appSlug", "stackscriptId"] | None
    label: Rule
    tag: Rule


@dataclass(frozen=True)
class ProviderEntry:
    name: str
    title: str
    # kind → "module:callable" opening the adapter (see `connect` for each kind's signature)
    adapters: Mapping[str, str]
    # The API's address (what the official client takes as its base URL).
    base_url: str | None
    budgets: Mapping[str, tuple[str, ...]]
    # "module:callable" of the read-only check behind `stellwerk providers check`
    check: str
    sandbox: SandboxSpec | None = None
    catalog: CatalogRoutes | None = None
    capabilities: Capabilities | None = None
    # Providers configured by settings (not by rows in `service_providers`): whether real
    # credentials are set, the base URL they use, and what an operator sets.
    configured: Callable[[Settings], bool] | None = None
    api_url: Callable[[Settings], str | None] | None = None
    settings_hint: str = ""
    # A 429 without `Retry-After` means one more request in 1/refill seconds (a token bucket)
    # rather than "wait until RateLimit-Reset" (Hetzner's reset is the time of a *full* bucket).
    refill_per_second: float | None = None

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(k for k in KINDS if k in self.adapters)

    def opener(self, kind: str) -> Callable[..., Any]:
        opener: Callable[..., Any] = load(self.adapters[kind])
        return opener


def load(path: str) -> Any:
    """`"package.module:attribute"` → the attribute (imports the module on first use)."""
    module, _, attribute = path.partition(":")
    return getattr(importlib.import_module(module), attribute)


# --- URLs from the settings ---------------------------------------------------------------

INWX_LIVE_URL = "https://api.domrobot.com"
INWX_TEST_URL = "https://api.ote.domrobot.com"  # INWX's OT&E test system
HETZNER_URL = "https://api.hetzner.cloud/v1"


def coolify_api_url(value: str | None) -> str | None:
    """`COOLIFY_API_URL` with or without `/api/v1` (the API lives there: routes/api.php is
    mounted under `/api` with the prefix `v1`)."""
    if not value:
        return None
    value = value.strip().rstrip("/")
    path = urlparse(value).path.rstrip("/")
    return value if path.endswith("/api/v1") else f"{value}/api/v1"


def _inwx_url(settings: Settings) -> str:
    if settings.inwx_api_url:
        return settings.inwx_api_url.rstrip("/")
    return INWX_TEST_URL if settings.inwx_use_test else INWX_LIVE_URL


def _coolify_url(settings: Settings) -> str | None:
    return coolify_api_url(settings.coolify_api_url)


def _hetzner_dns_url(settings: Settings) -> str:
    return (settings.hetzner_dns_api_url or HETZNER_URL).rstrip("/")


def _powerdns_url(settings: Settings) -> str | None:
    return settings.powerdns_api_url.rstrip("/") if settings.powerdns_api_url else None


# --- names and tags -----------------------------------------------------------------------

_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# Hetzner: "a valid hostname as per RFC 1123" (hetzner.json, create_server_request.name).
HOSTNAME = Rule(
    re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*"),
    "a host name (letters, digits, '-' and '.', no '_')",
)
# DigitalOcean: droplet_single_create.name `^[a-zA-Z0-9]?[a-z0-9A-Z.\-]*[a-z0-9A-Z]$`
# (digitalocean.yaml).
DROPLET_NAME = Rule(
    re.compile(r"[a-zA-Z0-9]?[a-z0-9A-Z.\-]*[a-z0-9A-Z]"),
    "letters, digits, '.' and '-' (no '_'), ending with a letter or digit",
)
# Linode: labels are 3-64 characters of letters, digits, '-', '_' and '.', beginning and
# ending with a letter or digit, with no two of '-', '_', '.' in a row (techdocs.akamai.com,
# "Create a Linode", `label`).
LINODE_LABEL = Rule(
    re.compile(r"(?=.{3,64}$)[A-Za-z0-9](?:[A-Za-z0-9]|[-_.](?![-_.]))*[A-Za-z0-9]"),
    "3-64 letters, digits, '-', '_' or '.', no two of '-_.' in a row",
)
# Hetzner label keys (Stellwerk puts tags into label keys with empty values): "a valid label
# key ... 63 characters or less, alphanumerics, '-', '_' and '.'" (docs.hetzner.cloud, Labels).
HETZNER_TAG = Rule(
    re.compile(r"[A-Za-z0-9]([-_.A-Za-z0-9]{0,61}[A-Za-z0-9])?"),
    "up to 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit",
)
# Linode: "Tag '…' must be between 3 and 50 characters" (the API's answer, quoted in
# linode/terraform-provider-linode#32).
LINODE_TAG = Rule(re.compile(r".{3,50}", re.DOTALL), "3-50 characters")
# DigitalOcean: "Tags may contain letters, numbers, colons, dashes, and underscores. There is a
# limit of 255 characters per tag." (digitalocean.yaml, tags_create.name)
DIGITALOCEAN_TAG = Rule(
    re.compile(r"[A-Za-z0-9:_-]{1,255}"), "letters, digits, ':', '-' and '_' (up to 255)"
)


ENTRIES: tuple[ProviderEntry, ...] = (
    ProviderEntry(
        name="inwx",
        title="INWX",
        adapters={
            "registrar": "stellwerk.provider.registrar.inwx.adapter:open_registrar",
            "dns": "stellwerk.provider.dns.inwx.adapter:open_dns",
        },
        base_url=INWX_LIVE_URL,
        budgets={"inwx": ("10/second",)},
        check="stellwerk.provider.registrar.inwx.adapter:check",
        sandbox=SandboxSpec(
            app="stellwerk.provider.registrar.inwx.sandbox:create_app",
            suffix="",
            port_offset=1,
            seeds={"contact_id": "12345"},
        ),
        configured=lambda s: bool(s.inwx_username),
        api_url=_inwx_url,
        settings_hint="INWX_USERNAME, INWX_PASSWORD (and INWX_2FA_SECRET)",
    ),
    ProviderEntry(
        name="coolify",
        title="Coolify",
        adapters={"paas": "stellwerk.provider.paas.coolify.adapter:open_paas"},
        base_url=None,  # the operator's own instance
        budgets={"coolify": ("200/minute",)},
        check="stellwerk.provider.paas.coolify.adapter:check",
        sandbox=SandboxSpec(
            app="stellwerk.provider.paas.coolify.sandbox:create_app",
            suffix="/api/v1",
            port_offset=2,
            seeds={
                "server_name": "hetzner-1",
                "private_key_uuid": "sandboxkey0000000000000",
                "hetzner_token_uuid": "sandboxhetznertoken0000",
            },
            health_url="{root}/__app__/{domain}/health",
        ),
        configured=lambda s: bool(s.coolify_api_token),
        api_url=_coolify_url,
        settings_hint="COOLIFY_API_URL and COOLIFY_API_TOKEN",
    ),
    ProviderEntry(
        name="linode",
        title="Linode (Akamai)",
        adapters={"compute": "stellwerk.provider.compute.linode.adapter:LinodeCompute"},
        base_url="https://api.linode.com/v4",
        budgets={"linode": ("1600/minute",), "linode:list": ("200/minute",)},
        check="stellwerk.provider.compute.linode.adapter:check",
        sandbox=SandboxSpec(
            app="stellwerk.provider.compute.linode.sandbox:create_app",
            suffix="/v4",
            port_offset=4,
        ),
        catalog=CatalogRoutes(
            plans="types",
            plans_key="types",
            regions="regions",
            marketplace="stackscripts",
            marketplace_key="stackscripts",
        ),
        capabilities=Capabilities(
            power_actions=frozenset({"power_on", "shutdown", "power_off", "reboot"}),
            marketplace="stackscriptId",
            label=LINODE_LABEL,
            tag=LINODE_TAG,
        ),
    ),
    ProviderEntry(
        name="digitalocean",
        title="DigitalOcean",
        adapters={"compute": "stellwerk.provider.compute.digitalocean.adapter:DigitalOceanCompute"},
        # pydo's `endpoint`: the API paths carry `/v2` themselves.
        base_url="https://api.digitalocean.com",
        budgets={"digitalocean": ("5000/hour", "250/minute")},
        check="stellwerk.provider.compute.digitalocean.adapter:check",
        sandbox=SandboxSpec(
            app="stellwerk.provider.compute.digitalocean.sandbox:create_app",
            suffix="",
            port_offset=5,
        ),
        catalog=CatalogRoutes(
            plans="sizes",
            plans_key="sizes",
            regions="regions",
            marketplace="marketplace",
            marketplace_key="apps",
        ),
        capabilities=Capabilities(
            power_actions=frozenset({"power_on", "shutdown", "power_off", "reboot", "power_cycle"}),
            marketplace="appSlug",
            label=DROPLET_NAME,
            tag=DIGITALOCEAN_TAG,
        ),
    ),
    ProviderEntry(
        name="hetzner",
        title="Hetzner Cloud",
        adapters={
            "compute": "stellwerk.provider.compute.hetzner.adapter:HetznerCompute",
            "dns": "stellwerk.provider.dns.hetzner.adapter:open_dns",
        },
        base_url=HETZNER_URL,
        budgets={"hetzner": ("3600/hour",)},
        check="stellwerk.provider.compute.hetzner.adapter:check",
        sandbox=SandboxSpec(
            app="stellwerk.provider.compute.hetzner.sandbox:create_app",
            suffix="/v1",
            port_offset=3,
        ),
        catalog=CatalogRoutes(plans="server-types", plans_key="server_types", regions="locations"),
        capabilities=Capabilities(
            power_actions=frozenset({"power_on", "shutdown", "power_off", "reboot"}),
            marketplace=None,
            label=HOSTNAME,
            tag=HETZNER_TAG,
        ),
        configured=lambda s: bool(s.hetzner_api_token),
        api_url=_hetzner_dns_url,
        settings_hint="HETZNER_API_TOKEN (DNS); compute: a provider with its API token",
        refill_per_second=1.0,
    ),
    ProviderEntry(
        name="powerdns",
        title="PowerDNS",
        adapters={"dns": "stellwerk.provider.dns.powerdns.adapter:open_dns"},
        base_url=None,  # the operator's own server
        budgets={"powerdns": ("100/second",)},
        check="stellwerk.provider.dns.powerdns.adapter:check",
        configured=lambda s: bool(s.powerdns_api_url and s.powerdns_api_key),
        api_url=_powerdns_url,
        settings_hint="POWERDNS_API_URL and POWERDNS_API_KEY",
    ),
)

_BY_NAME = {entry.name: entry for entry in ENTRIES}


def entry(name: str) -> ProviderEntry:
    """The provider called `name`; `KeyError` for one the registry does not know."""
    return _BY_NAME[name]


def find(name: str) -> ProviderEntry | None:
    return _BY_NAME.get(name)


def names(kind: str) -> tuple[str, ...]:
    """Providers of a kind, in registry order (`compute`: linode, digitalocean, hetzner...)."""
    return tuple(e.name for e in ENTRIES if kind in e.adapters)


def compute_types() -> tuple[str, ...]:
    return names("compute")


def settings_providers() -> tuple[ProviderEntry, ...]:
    """Providers configured by settings (registrar, DNS, PaaS), not by provider rows."""
    return tuple(e for e in ENTRIES if e.configured is not None)


def with_sandbox() -> tuple[ProviderEntry, ...]:
    return tuple(
        sorted((e for e in ENTRIES if e.sandbox), key=lambda e: e.sandbox.port_offset)  # type: ignore[union-attr]
    )


@functools.cache
def budget_limits(key: str) -> tuple[str, ...]:
    """The budget windows of `key` ("hetzner", "linode:list", ...)."""
    for item in ENTRIES:
        if key in item.budgets:
            return item.budgets[key]
    raise KeyError(key)


def capabilities(name: str) -> Capabilities:
    found = entry(name).capabilities
    if found is None:
        raise KeyError(f"{name} is not a compute provider")
    return found

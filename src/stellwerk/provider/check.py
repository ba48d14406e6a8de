"""`stellwerk providers check`: is each configured provider usable, and if not, what to fix.

A check makes read-only calls with the configured credentials (authentication, a catalog or
list call) and reads what the answers carry besides: the rate-limit headers, the clock (a clock
that is off breaks INWX's TOTP codes), the Coolify token's abilities, INWX's 2FA state. Nothing
is created. Each provider's check lives beside its adapter and is named in its registry entry;
this module holds what they share and runs them.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import httpx

from stellwerk.config import Settings
from stellwerk.provider import connect, registry
from stellwerk.provider.error import ProviderError

Level = Literal["ok", "warning", "error"]
Verdict = Literal["ok", "warning", "failed", "not_configured"]
# Headers a provider announces its limits with (Hetzner and DigitalOcean `RateLimit-*`,
# Linode and Coolify `X-RateLimit-*`).
LIMIT_HEADERS = (
    ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"),
    ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"),
)
SKEW_WARNING = 30.0  # seconds; INWX's TOTP steps are 30 seconds long


@dataclass
class Finding:
    level: Level
    message: str
    fix: str | None = None


@dataclass(frozen=True)
class Target:
    """What to check: a provider at a URL with its credentials (never shown)."""

    provider: str
    url: str
    label: str  # "settings" or the provider row's name
    credentials: Mapping[str, str | None] = field(default_factory=dict, repr=False)
    sandbox: bool = False
    kind: str = "compute"  # which of the provider's kinds is checked
    # Where an operator fixes the credentials ("HETZNER_API_TOKEN", "the provider's API key").
    where: str = "the provider's API key (PUT /api/admin/providers/{id})"


@dataclass
class Report:
    provider: str
    title: str
    label: str
    url: str | None
    verdict: Verdict = "ok"
    findings: list[Finding] = field(default_factory=list)
    rate_limit: dict[str, str] | None = None
    clock_skew_seconds: float | None = None
    duration_ms: float = 0.0
    sandbox: bool = False

    def ok(self, message: str) -> None:
        self.findings.append(Finding("ok", message))

    def warn(self, message: str, fix: str | None = None) -> None:
        self.findings.append(Finding("warning", message, fix))

    def fail(self, message: str, fix: str | None = None) -> None:
        self.findings.append(Finding("error", message, fix))

    def settle(self) -> Report:
        levels = {f.level for f in self.findings}
        if self.verdict != "not_configured":
            self.verdict = "failed" if "error" in levels else "warning" if levels - {"ok"} else "ok"
        return self

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Probe:
    """Read-only HTTP calls that note the limit headers and the clock of each answer."""

    def __init__(self, report: Report, *, base_url: str, headers: Mapping[str, str]) -> None:
        self.report = report
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"User-Agent": "stellwerk-check", **headers},
            timeout=15.0,
        )

    async def __aenter__(self) -> Probe:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        """The answer, or None (and an error finding) when the provider could not be reached."""
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            self.report.fail(
                f"{self.report.title} did not answer at {self.report.url}: {type(error).__name__}",
                "Check the base URL and that this host may reach it",
            )
            return None
        self._note(response)
        return response

    def _note(self, response: httpx.Response) -> None:
        for names in LIMIT_HEADERS:
            if names[0] in response.headers:
                self.report.rate_limit = {
                    key: response.headers[name]
                    for key, name in zip(("limit", "remaining", "reset"), names, strict=True)
                    if name in response.headers
                }
        date = response.headers.get("date")
        if date:
            try:
                told = email.utils.parsedate_to_datetime(date).timestamp()
            except (TypeError, ValueError):
                return
            self.report.clock_skew_seconds = round(time.time() - told, 1)


def clock(report: Report) -> None:
    """A finding about this host's clock against the provider's."""
    skew = report.clock_skew_seconds
    if skew is not None and abs(skew) > SKEW_WARNING:
        report.warn(
            f"This host's clock is {skew:+.0f} s off {report.title}'s",
            "Synchronise the clock (NTP): two-factor codes and rate-limit waits depend on it",
        )


def refused(report: Report, status: int, how: str) -> None:
    """The credentials were refused: say so, and how to get working ones."""
    report.fail(f"{report.title} refused the credentials (HTTP {status})", how)


def new_report(target: Target) -> Report:
    entry = registry.entry(target.provider)
    return Report(
        provider=entry.name,
        title=entry.title,
        label=target.label,
        url=target.url,
        sandbox=target.sandbox,
    )


async def run(target: Target) -> Report:
    """Run the provider's check (its registry entry names it), timed, never raising."""
    started = time.perf_counter()
    check = registry.load(registry.entry(target.provider).check)
    try:
        report: Report = await check(target)
    except ProviderError as error:
        report = new_report(target)
        report.fail(error.message)
    except httpx.HTTPError as error:
        report = new_report(target)
        report.fail(f"{report.title} did not answer: {type(error).__name__}")
    report.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    return report.settle()


# --- what is configured ----------------------------------------------------------------------


def settings_target(settings: Settings, name: str) -> Target | None:
    """The settings-configured provider as a check target; None when it is not configured (its
    sandbox answers, or nothing does)."""
    entry = registry.entry(name)
    if entry.configured is None or not entry.configured(settings):
        return None
    point = connect.endpoint(settings, name)

    def secret(value: Any) -> str | None:
        return None if value is None else str(value.get_secret_value())

    credentials: dict[str, str | None] = {
        "inwx": {
            "username": settings.inwx_username,
            "password": secret(settings.inwx_password),
            "otp_secret": secret(settings.inwx_2fa_secret),
        },
        "coolify": {"token": secret(settings.coolify_api_token)},
        "hetzner": {"token": secret(settings.hetzner_api_token)},
        "powerdns": {
            "token": secret(settings.powerdns_api_key),
            "server_id": settings.powerdns_server_id,
        },
    }.get(name, {})
    kind = next(k for k in entry.kinds if k != "compute")
    return Target(
        name,
        point.url,
        "settings",
        credentials,
        sandbox=point.sandbox,
        kind=kind,
        where=entry.settings_hint,
    )


def not_configured(settings: Settings, name: str) -> Report:
    entry = registry.entry(name)
    report = Report(provider=name, title=entry.title, label="settings", url=None)
    report.verdict = "not_configured"
    answered = connect.uses_sandbox(settings, name)
    report.findings.append(
        Finding(
            "ok",
            "Not configured: its sandbox answers (sandbox mode)" if answered else "Not configured",
            f"To use {entry.title}, set {entry.settings_hint}",
        )
    )
    report.sandbox = answered
    return report


async def check_settings_provider(settings: Settings, name: str) -> Report:
    target = settings_target(settings, name)
    if target is None:
        return not_configured(settings, name)
    return await run(target)


async def check_settings_providers(settings: Settings) -> list[Report]:
    return [
        await check_settings_provider(settings, entry.name)
        for entry in registry.settings_providers()
    ]


async def check_compute(
    provider_type: str, *, token: str, base_url: str | None, label: str
) -> Report:
    entry = registry.entry(provider_type)
    url = base_url or entry.base_url or ""
    return await run(Target(provider_type, url, label, {"token": token}))

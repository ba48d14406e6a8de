"""The sources `stellwerk import` knows, as the Import page and the docs name them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    name: str
    title: str
    command: str
    brings: str


SOURCES: tuple[Source, ...] = (
    Source(
        "nexredirect",
        "NexRedirect",
        "stellwerk import nexredirect --sqlite nexredirect.db [--apply]",
        "Users (their passwords), nrx_ API tokens, groups, domains with their settings and "
        "sunset pages, hits with their statistics, the webhook URL.",
    ),
    Source(
        "v2",
        "License server (V2)",
        "stellwerk import v2 --database-url postgresql://… [--mapping v2.toml] [--apply]",
        "The AF- API key, client applications, customers, licenses with their keys, devices, "
        "open sessions, versions, resources and leads.",
    ),
    Source(
        "skypanel",
        "VPS panel (SkyPanel)",
        "stellwerk import skypanel --database-url postgresql://… --secret SSH_CRED_SECRET "
        "[--apply]",
        "Providers with their API keys, plans, and the servers with their owners, matched with "
        "the servers live at the providers.",
    ),
    Source(
        "vyra",
        "Module manager (VYRA)",
        "stellwerk import vyra --workspace DIR [--apply]",
        "Installed modules, their instances (ids kept), the primary instance and the repositories.",
    ),
    Source(
        "adopt",
        "What runs at the providers",
        "stellwerk domains import [--apply]; stellwerk projects import [--apply]; "
        "stellwerk servers import",
        "The INWX account's domains and DNS zones, Coolify's applications as projects, the "
        "compute providers' servers. Nothing at the provider is changed.",
    ),
    Source(
        "stellwerk",
        "Stellwerk export",
        "stellwerk export --to DIR [--include-secrets], then "
        "stellwerk import stellwerk DIR [--apply]",
        "Everything, from another Stellwerk installation or database (a backup, or the move "
        "from SQLite to PostgreSQL).",
    ),
)

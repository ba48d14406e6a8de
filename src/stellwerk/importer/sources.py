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
        "stellwerk import nexredirect --sqlite nexredirect.db --dry-run",
        "Users (their passwords), nrx_ API tokens, groups, domains with their settings and "
        "sunset pages, hits with their statistics.",
    ),
    Source(
        "v2",
        "License server (V2)",
        "stellwerk import v2 --database-url postgresql://… [--mapping v2.toml] --dry-run",
        "The AF- API key, client applications, customers, licenses with their keys, devices, "
        "open sessions, versions, resources and leads.",
    ),
    Source(
        "stellwerk",
        "Stellwerk export",
        "stellwerk export --to DIR [--include-secrets], then stellwerk import stellwerk DIR",
        "Everything, from another Stellwerk installation or database (a backup, or the move "
        "from SQLite to PostgreSQL).",
    ),
)

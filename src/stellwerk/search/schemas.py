from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

EntityType = Literal["customer", "license", "device", "lead"]


class SearchResult(BaseModel):
    type: EntityType
    id: int
    title: str
    subtitle: str
    url: str


class SearchResults(BaseModel):
    results: list[SearchResult]
    total: int


# The web UI's search box: the license panel's kinds and the things people own.
FoundType = Literal[
    "server", "project", "domain", "redirect", "customer", "license", "device", "lead"
]


class Found(BaseModel):
    type: FoundType
    id: str
    title: str
    subtitle: str
    url: str  # the web UI page that shows it


class FoundGroup(BaseModel):
    """One kind's matches: the first few, and how many there are in all."""

    type: FoundType
    label: str
    total: int
    results: list[Found]

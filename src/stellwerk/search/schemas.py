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

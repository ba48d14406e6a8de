"""The reconciliation report as the API answers it."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FindingRead(BaseModel):
    area: str = Field(description="servers, domains, coolify or modules")
    scope: str = Field(description="The provider account or runtime")
    kind: str = Field(description="orphan, missing, status or unreachable")
    subject: str = Field(description="The resource: server id, domain, uuid, unit")
    ours: str | None
    theirs: str | None
    detail: str


class ReportRead(BaseModel):
    matches: bool = Field(description="Everything that could be asked matches")
    checked: dict[str, dict[str, int]] = Field(
        description="Per area, per provider account or runtime: how many resources were compared"
    )
    findings: list[FindingRead]

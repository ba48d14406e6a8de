from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from stellwerk.kit.body import StrictBody

OperationStatus = Literal["queued", "running", "completed", "failed", "cancelled"]


class OperationEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: dt.datetime
    progress: int
    message: str
    step: str | None


class OperationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str
    status: OperationStatus
    progress: int
    message: str
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    target_type: str | None
    target_id: str | None
    owner_user_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class OperationDetail(OperationRead):
    events: list[OperationEventRead]


class ProbeRequest(StrictBody):
    steps: int = 3
    seconds: float = 1.0
    idempotency_key: str | None = None

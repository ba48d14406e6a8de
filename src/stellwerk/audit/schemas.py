from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    actor_user_id: int | None
    actor_name: str
    credential: str
    action: str
    target_type: str | None
    target_id: str | None
    detail: dict[str, Any]
    ip: str | None

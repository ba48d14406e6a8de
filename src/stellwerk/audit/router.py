"""HTTP for reading the audit log (admins)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from stellwerk.audit.schemas import AuditEventRead
from stellwerk.audit.service import audit
from stellwerk.database import SessionDep
from stellwerk.identity.auth import AdminUser
from stellwerk.kit.pagination import Page, PageParams, page_params
from stellwerk.surface import Surface, error_responses

router = APIRouter(tags=["audit"], responses=error_responses(Surface.GENERIC))


@router.get("/api/admin/audit", response_model=Page[AuditEventRead])
async def list_audit_events(
    _: AdminUser,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    action: Annotated[str | None, Query(max_length=80, description="Action prefix")] = None,
    actor_user_id: int | None = None,
    target_type: Annotated[str | None, Query(max_length=40)] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
    since: dt.datetime | None = None,
) -> Page[AuditEventRead]:
    """Every change, newest first: who, with which credential, what, when and from where."""
    events, total = await audit.list(
        session,
        params=params,
        action=action,
        actor_user_id=actor_user_id,
        target_type=target_type,
        target_id=target_id,
        since=since,
    )
    return Page.of([AuditEventRead.model_validate(e) for e in events], total=total, params=params)

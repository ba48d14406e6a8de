"""HTTP for the reconciliation report."""

from __future__ import annotations

from fastapi import APIRouter

from stellwerk.database import SessionDep
from stellwerk.identity.auth import AdminUser, RuntimeDep
from stellwerk.reconcile.schemas import ReportRead
from stellwerk.reconcile.service import reconcile_service
from stellwerk.surface import Surface, error_responses

router = APIRouter(tags=["reconcile"], responses=error_responses(Surface.GENERIC))


@router.get("/api/admin/reconcile", response_model=ReportRead)
async def reconcile(_: AdminUser, session: SessionDep, runtime: RuntimeDep) -> ReportRead:
    """Servers, registrar domains, Coolify projects and module units next to what their
    providers report (`matches` false when anything differs). Read only: changes nothing."""
    report = await reconcile_service.report(session, runtime.settings)
    return ReportRead.model_validate(report.as_json())

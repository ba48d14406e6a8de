"""Things about a server that someone should hear of: a change of its state."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.models import VpsInstance
from stellwerk.notify.service import notifier


async def state_changed(session: AsyncSession, instance: VpsInstance, before: str) -> None:
    """Announce `server.state_changed` when the instance's status moved away from `before`."""
    if instance.status == before:
        return
    await notifier.emit(
        session,
        "server.state_changed",
        {
            "server_id": str(instance.id),
            "label": instance.label,
            "provider_type": instance.provider_type,
            "status_before": before,
            "status": instance.status,
            "ip_address": instance.ip_address,
            "owner_user_id": instance.user_id,
            "path": f"/ui/servers/{instance.id}",
            "summary": f"Server {instance.label} is {instance.status} (was {before})",
        },
    )

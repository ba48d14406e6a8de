"""Which instance a module frontend URL names, and where that instance answers.

`/{module_name}/…` is the primary instance's frontend, `/{module_name}/{instance_id}/…` that
instance's. The proxy (frontend_router) forwards the rest of the path to the instance, which
sees it from its own root: `/v2_dashboard/app.js` arrives as `/app.js`, with the prefix in
`X-Forwarded-Prefix`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.config import Settings
from stellwerk.exceptions import NotFound, ServiceUnavailable
from stellwerk.models import ModuleInstance
from stellwerk.module.manifest import INSTANCE_ID_PATTERN, NAME_PATTERN, Manifest
from stellwerk.module.repository import ModuleInstanceRepository
from stellwerk.module.runtimes import RuntimeUnavailable, runtime_for

_NAME = re.compile(NAME_PATTERN)
_INSTANCE_ID = re.compile(INSTANCE_ID_PATTERN)


class FrontendNotFound(NotFound):
    default_code = "module_not_found"


class FrontendUnavailable(ServiceUnavailable):
    default_code = "frontend_unavailable"


@dataclass(frozen=True)
class Frontend:
    instance: ModuleInstance
    prefix: str  # what the browser sees before the instance's own path, ending in "/"
    path: str  # the path inside the instance, without its leading "/"


def frontend_url(instance: ModuleInstance) -> str:
    """Where the instance's frontend is: the primary at `/{module}/`, any at its own URL."""
    if instance.is_primary:
        return f"/{instance.module_name}/"
    return f"/{instance.module_name}/{instance.id}/"


class FrontendService:
    async def find(self, session: AsyncSession, module_name: str, rest: str) -> Frontend:
        """The instance `/{module_name}/{rest}` names."""
        if not _NAME.fullmatch(module_name) or len(module_name) > 64:
            raise FrontendNotFound(f"No module {module_name[:64]} is installed")
        instances = ModuleInstanceRepository(session)
        first, _, remainder = rest.partition("/")
        if _INSTANCE_ID.fullmatch(first):
            chosen = await instances.get(first)
            if chosen is not None and chosen.module_name == module_name:
                return Frontend(chosen, f"/{module_name}/{chosen.id}/", remainder)
        primary = await instances.primary(module_name)
        if primary is None:
            raise FrontendNotFound(f"No module {module_name} is installed")
        return Frontend(primary, f"/{module_name}/", rest)

    async def address(self, settings: Settings, frontend: Frontend) -> str:
        """`host:port` of the instance's frontend; 503 while it is not running."""
        instance = frontend.instance
        try:
            manifest = Manifest.model_validate(instance.manifest)
            where = await runtime_for(instance.runtime, settings).address(
                instance.unit_name, manifest
            )
        except RuntimeUnavailable as error:
            raise FrontendUnavailable(
                f"The runtime of {instance.module_name} cannot be asked: {error.message}"
            ) from error
        if where is None:
            raise FrontendUnavailable(
                f"Instance {instance.id[:12]} of {instance.module_name} is not running; "
                "start it to open its frontend",
                headers={"Retry-After": "5"},
            )
        return where


module_frontend = FrontendService()

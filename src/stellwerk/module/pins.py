"""Checksum pins: the sha256 of a module version's archive, remembered when it is first trusted.

A repository's index names each archive's sha256, but the index comes from the same place as
the archive: whoever can change one can change the other. So the first archive of a repository,
module and version that Stellwerk installs fixes its checksum; a different archive for the same
version is refused (409 `checksum_changed`) until an admin clears the pin on purpose.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from stellwerk.audit.actor import Actor
from stellwerk.audit.service import audit
from stellwerk.exceptions import Conflict, NotFound
from stellwerk.kit.pagination import PageParams
from stellwerk.kit.time import iso
from stellwerk.models import ModulePin
from stellwerk.module.manifest import check_module_name, check_version
from stellwerk.module.repository import ModulePinRepository


class ChecksumChanged(Conflict):
    default_code = "checksum_changed"


class PinNotFound(NotFound):
    default_code = "pin_not_found"


def _changed(pin: ModulePin, sha256: str) -> ChecksumChanged:
    return ChecksumChanged(
        f"The archive of {pin.module_name} {pin.version} in repository {pin.repository_id} "
        f"now has sha256 {sha256}, but {pin.sha256} was pinned when this version was first "
        f"trusted ({iso(pin.pinned_at)}). A published version must not change; if its "
        "publisher really rebuilt it, an admin can clear the pin "
        f"(DELETE /repository/pins/{pin.repository_id}/{pin.module_name}/{pin.version}).",
        extra={"pinned_sha256": pin.sha256, "sha256": sha256},
    )


class ModulePinService:
    async def check(
        self, session: AsyncSession, repository_id: str, module_name: str, version: str, sha256: str
    ) -> None:
        """Refuse a checksum that differs from the pinned one (no pin: nothing to compare)."""
        pin = await ModulePinRepository(session).get(repository_id, module_name, version)
        if pin is not None and pin.sha256 != sha256:
            raise _changed(pin, sha256)

    async def pin(
        self, session: AsyncSession, repository_id: str, module_name: str, version: str, sha256: str
    ) -> ModulePin:
        """Pin `sha256` unless a pin exists; refuse it if the existing pin differs."""
        held = await ModulePinRepository(session).add_if_absent(
            ModulePin(
                repository_id=repository_id,
                module_name=module_name,
                version=version,
                sha256=sha256,
            )
        )
        if held.sha256 != sha256:
            raise _changed(held, sha256)
        return held

    async def list(
        self,
        session: AsyncSession,
        *,
        params: PageParams,
        repository_id: str | None = None,
        module_name: str | None = None,
    ) -> tuple[Sequence[ModulePin], int]:
        return await ModulePinRepository(session).list(
            repository_id=repository_id,
            module_name=module_name,
            offset=params.offset,
            limit=params.per_page,
        )

    async def get(
        self, session: AsyncSession, repository_id: str, module_name: str, version: str
    ) -> ModulePin:
        check_module_name(module_name)
        check_version(version)
        pin = await ModulePinRepository(session).get(repository_id, module_name, version)
        if pin is None:
            raise PinNotFound(f"No pin for {module_name} {version} from repository {repository_id}")
        return pin

    async def clear(self, session: AsyncSession, actor: Actor, pin: ModulePin) -> None:
        """Forget a pin: the next install of that version trusts the archive it gets."""
        detail = {
            "repository_id": pin.repository_id,
            "module_name": pin.module_name,
            "version": pin.version,
            "sha256": pin.sha256,
        }
        await ModulePinRepository(session).delete(pin)
        await audit.record(
            session,
            actor,
            "module.pin.clear",
            target_type="module",
            target_id=pin.module_name,
            detail=detail,
        )


module_pin = ModulePinService()

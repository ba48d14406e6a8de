"""First start: the first admin and the system API key, shown once, stored only as hashes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import text

from stellwerk.audit.actor import Actor
from stellwerk.identity import service as identity_service
from stellwerk.identity.repository import UserRepository
from stellwerk.kit.secret import random_password
from stellwerk.license import service as license_service
from stellwerk.module.service import module_repository
from stellwerk.provider.error import ProviderError
from stellwerk.runtime import Runtime
from stellwerk.server.service import ensure_sandbox_providers

log = logging.getLogger(__name__)


@dataclass
class FirstStart:
    """Secrets created on this start, to be shown to the operator once."""

    admin_username: str | None = None
    admin_password: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)

    @property
    def created_anything(self) -> bool:
        return bool(self.admin_username or self.api_key)


# Any fixed number: the PostgreSQL advisory lock first-start work takes.
BOOTSTRAP_LOCK_ID = 0x5374_6542


async def bootstrap(runtime: Runtime) -> FirstStart:
    report = FirstStart()
    settings = runtime.settings
    async with runtime.database.session() as session:
        if runtime.database.dialect == "postgresql":
            # Processes starting together (API and worker units) take turns, so exactly one
            # creates the first admin and the API key; held until this transaction commits.
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:id)"), {"id": BOOTSTRAP_LOCK_ID}
            )
        if await UserRepository(session).count() == 0:
            username = settings.admin_username or "admin"
            configured = (
                settings.admin_password.get_secret_value() if settings.admin_password else None
            )
            password = configured or random_password()
            await identity_service.user.create(
                session, Actor.system(), username=username, password=password, role="admin"
            )
            report.admin_username = username
            # A configured password is the operator's own: never echo it.
            report.admin_password = None if configured else password
        report.api_key = await identity_service.system_api_key.ensure(session)
        # The license server's default client application (idempotent).
        await license_service.client_config.ensure(session, name=settings.license_default_client)
        # The built-in module repository with the demo module (idempotent).
        await module_repository.ensure_builtin(session)
        # In sandbox mode, a fresh installation can order servers at once.
        try:
            async with session.begin_nested():
                await ensure_sandbox_providers(session, settings, runtime.sandboxes)
        except ProviderError as error:  # the start goes on; providers can be added by hand
            log.warning("the sandbox providers were not set up: %s", error.message)
    return report

"""What a running Stellwerk process holds: settings, the database, limits and keys."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from stellwerk.config import Settings, refuse_unsafe
from stellwerk.database import Database
from stellwerk.keyfile import derive_key, load_or_create_master_key
from stellwerk.kit.ratelimit import RateLimiter
from stellwerk.operation.engine import Engine


@dataclass
class Runtime:
    settings: Settings
    database: Database
    limiter: RateLimiter
    master_key: bytes = field(repr=False)
    # Base URLs of the provider sandboxes running in this process, by provider.
    sandboxes: dict[str, str] = field(default_factory=dict)
    started_at: float = field(default_factory=time.time)
    # The workflow engine, once the application has started it (the CLI runs none).
    engine: Engine | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        refuse_unsafe(settings)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        configured = settings.secret_key.get_secret_value() if settings.secret_key else None
        return cls(
            settings=settings,
            database=Database(
                settings.resolved_database_url, pool_size=settings.database_pool_size
            ),
            limiter=RateLimiter(settings.redis_url),
            master_key=load_or_create_master_key(settings.data_dir, configured),
        )

    def key_for(self, purpose: str) -> bytes:
        return derive_key(self.master_key, purpose)

    async def close(self) -> None:
        await self.database.dispose()

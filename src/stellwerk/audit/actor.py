from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """Whoever causes a change: a user through a credential, the CLI, or Stellwerk itself."""

    user_id: int | None
    name: str
    credential: str
    ip: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(user_id=None, name="system", credential="system")

    @classmethod
    def cli(cls, user_id: int | None = None, name: str = "cli") -> Actor:
        return cls(user_id=user_id, name=name, credential="cli")

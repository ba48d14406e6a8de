"""Secrets the whole installation shares, stored in the database and encrypted under a key
derived from the master key (AES-GCM, the secret's name bound as associated data).

Every process that shares the database and `STELLWERK_SECRET_KEY` reads the same value; the
first process that needs one creates it (or imports it from a file), once.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from stellwerk.database import Database
from stellwerk.exceptions import StellwerkError
from stellwerk.keyfile import derive_key
from stellwerk.kit.time import utc_now
from stellwerk.system.repository import InstallationSecretRepository

PURPOSE = "installation-secrets:v1"

# What a new secret starts as: its value, and whether it was imported (from a file) or created.
Initial = Callable[[], tuple[bytes, bool]]


class InstallationSecretUnreadable(StellwerkError):
    default_code = "installation_secret_unreadable"


class InstallationSecrets:
    def __init__(self, master_key: bytes) -> None:
        self._aead = AESGCM(derive_key(master_key, PURPOSE))

    def encrypt(self, name: str, value: bytes) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, value, name.encode())

    def decrypt(self, name: str, blob: bytes) -> bytes:
        try:
            return self._aead.decrypt(blob[:12], blob[12:], name.encode())
        except InvalidTag:
            raise InstallationSecretUnreadable(
                f"The installation's {name} cannot be decrypted with this process's master key: "
                "every process needs the same STELLWERK_SECRET_KEY"
            ) from None

    async def get_or_create(self, database: Database, name: str, initial: Initial) -> bytes:
        """The stored secret, or `initial()`'s value stored first (in a transaction of its own,
        so it is shared at once). Of processes racing to store one, the first one's wins."""
        async with database.session() as session:
            stored = await InstallationSecretRepository(session).get(name)
        if stored is None:
            value, imported = initial()
            async with database.session() as session:
                repository = InstallationSecretRepository(session)
                await repository.add_if_missing(
                    name,
                    self.encrypt(name, value),
                    origin="imported" if imported else "created",
                    imported_at=utc_now() if imported else None,
                )
            async with database.session() as session:
                stored = await InstallationSecretRepository(session).get(name)
            if stored is None:  # pragma: no cover - deleted in between
                raise InstallationSecretUnreadable(f"The installation's {name} was not stored")
        return self.decrypt(name, stored.encrypted_value)

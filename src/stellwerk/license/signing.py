"""The Ed25519 key that signs offline license files: one per installation, in the database.

Stored encrypted as an installation secret (`stellwerk.system.secrets`), so every host that shares
the database and `STELLWERK_SECRET_KEY` signs with the same key and serves the same public key.
Created on first use; a key file an older version left in the data directory
(`license-signing-key.pem`) is imported instead, once, and renamed to `….pem.imported`.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from stellwerk.database import Database
from stellwerk.system.secrets import InstallationSecrets

log = logging.getLogger(__name__)

KEY_FILE = "license-signing-key.pem"  # where older versions kept it: imported once
IMPORTED_SUFFIX = ".imported"
SECRET_NAME = "license-signing-key"


@dataclass(frozen=True)
class SigningKey:
    private_key: Ed25519PrivateKey

    @property
    def public_raw(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def public_pem(self) -> str:
        return (
            self.private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.public_raw).hexdigest()[:16]

    def sign(self, payload: bytes) -> str:
        return base64.b64encode(self.private_key.sign(payload)).decode()


# By database and master key: the key never changes once stored.
_cache: dict[tuple[str, str], SigningKey] = {}


async def load(database: Database, master_key: bytes, data_dir: Path) -> SigningKey:
    """The installation's signing key: stored, imported from `data_dir`'s key file, or new."""
    cache_key = (database.url, hashlib.sha256(master_key).hexdigest())
    cached = _cache.get(cache_key)
    if cached is not None:
        return cached
    path = data_dir / KEY_FILE
    imported: list[bool] = []

    def initial() -> tuple[bytes, bool]:
        if path.exists():
            imported.append(True)
            return path.read_bytes(), True
        return _generate(), False

    pem = await InstallationSecrets(master_key).get_or_create(database, SECRET_NAME, initial)
    key = SigningKey(_parse(pem, SECRET_NAME))
    if path.exists():
        _retire_file(path, key, imported=bool(imported))
    _cache[cache_key] = key
    return key


def forget() -> None:
    """Drop the loaded keys (tests that empty the database)."""
    _cache.clear()


def _generate() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _parse(pem: bytes, source: str) -> Ed25519PrivateKey:
    loaded = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise RuntimeError(f"{source} does not hold an Ed25519 private key")
    return loaded


def _retire_file(path: Path, key: SigningKey, *, imported: bool) -> None:
    """After the import, the plain key file goes out of the way; a file with another key (this
    host's own, from before the hosts shared a database) stays and is named in a warning."""
    file_key = SigningKey(_parse(path.read_bytes(), str(path)))
    if file_key.key_id != key.key_id:
        log.warning(
            "%s holds another license signing key (%s) than the installation's (%s); license "
            "files it signed no longer verify with the served public key",
            path,
            file_key.key_id,
            key.key_id,
        )
        return
    target = path.with_name(path.name + IMPORTED_SUFFIX)
    os.replace(path, target)
    log.info(
        "license signing key %s %s into the database; %s can be deleted",
        key.key_id,
        "imported" if imported else "found",
        target,
    )

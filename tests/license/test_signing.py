"""The license signing key is the installation's: in the database, encrypted, the same on every
host; a key file from before is imported once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from stellwerk.database import Database
from stellwerk.keyfile import derive_key
from stellwerk.license import signing
from stellwerk.license.signing import IMPORTED_SUFFIX, KEY_FILE, SECRET_NAME
from stellwerk.models import InstallationSecret
from stellwerk.runtime import Runtime
from stellwerk.system.secrets import InstallationSecretUnreadable


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


async def _stored(runtime: Runtime) -> InstallationSecret | None:
    async with runtime.database.session() as session:
        return await session.get(InstallationSecret, SECRET_NAME)


async def test_two_hosts_on_one_database_serve_the_same_key(
    runtime: Runtime, tmp_path: Path
) -> None:
    signing.forget()
    host_a, host_b = tmp_path / "a", tmp_path / "b"
    # Each host has its own engine on the shared database, as separate processes would.
    database_b = Database(runtime.database.url)
    try:
        first, second = await asyncio.gather(
            signing.load(runtime.database, runtime.master_key, host_a),
            _load_fresh(database_b, runtime.master_key, host_b),
        )
    finally:
        await database_b.dispose()
    assert first.public_pem == second.public_pem
    stored = await _stored(runtime)
    assert stored is not None
    assert stored.origin == "created"
    assert b"PRIVATE KEY" not in stored.encrypted_value
    assert not (host_a / KEY_FILE).exists()
    assert not (host_b / KEY_FILE).exists()


async def _load_fresh(database: Database, master_key: bytes, data_dir: Path) -> signing.SigningKey:
    signing.forget()
    return await signing.load(database, master_key, data_dir)


async def test_an_existing_key_file_is_imported_once(runtime: Runtime, tmp_path: Path) -> None:
    signing.forget()
    old = Ed25519PrivateKey.generate()
    (tmp_path / KEY_FILE).write_bytes(_pem(old))
    key = await signing.load(runtime.database, runtime.master_key, tmp_path)
    old_public = old.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert key.public_raw == old_public  # licenses signed before still verify
    assert not (tmp_path / KEY_FILE).exists()
    assert (tmp_path / (KEY_FILE + IMPORTED_SUFFIX)).exists()
    stored = await _stored(runtime)
    assert stored is not None
    assert stored.origin == "imported"
    assert stored.imported_at is not None
    # Another host with a key file of its own keeps the installation's key (and its file).
    other_host = tmp_path / "other"
    other_host.mkdir()
    (other_host / KEY_FILE).write_bytes(_pem(Ed25519PrivateKey.generate()))
    signing.forget()
    again = await signing.load(runtime.database, runtime.master_key, other_host)
    assert again.public_raw == old_public
    assert (other_host / KEY_FILE).exists()


async def test_another_master_key_cannot_read_it(runtime: Runtime, tmp_path: Path) -> None:
    signing.forget()
    await signing.load(runtime.database, runtime.master_key, tmp_path)
    signing.forget()
    with pytest.raises(InstallationSecretUnreadable, match="same STELLWERK_SECRET_KEY"):
        await signing.load(runtime.database, derive_key(b"another", "master"), tmp_path)

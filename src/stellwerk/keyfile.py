"""The master secret: `STELLWERK_SECRET_KEY`, or a key file created in the data directory.

Purpose keys (JWT signing, encryption) are derived from it, so one secret is all an operator keeps.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

KEY_FILE = "secret.key"


def load_or_create_master_key(data_dir: Path, configured: str | None) -> bytes:
    if configured:
        return configured.encode()
    path = data_dir / KEY_FILE
    if path.exists():
        return _read_key(path)
    data_dir.mkdir(parents=True, exist_ok=True)
    key = base64.urlsafe_b64encode(secrets.token_bytes(32))
    # Created with owner-only permissions from the first byte on.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process of this installation was first
        return _read_key(path)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key


def _read_key(path: Path) -> bytes:
    # A process that created the file an instant ago may not have written the key yet.
    for _ in range(50):
        key = path.read_bytes().strip()
        if key:
            return key
        time.sleep(0.05)
    raise RuntimeError(f"{path} is empty (an interrupted first start?): remove it to create a key")


def derive_key(master: bytes, purpose: str) -> bytes:
    return hmac.new(master, purpose.encode(), hashlib.sha256).digest()

"""Imported bcrypt password hashes: checked as such, and always due for argon2id."""

from __future__ import annotations

import bcrypt

from stellwerk.kit.secret import (
    hash_password,
    is_bcrypt_hash,
    password_needs_rehash,
    verify_password,
)


def test_bcrypt_hashes_verify_and_need_a_rehash() -> None:
    for prefix in ("$2a$", "$2b$", "$2y$"):
        stored = bcrypt.hashpw(b"old password 1", bcrypt.gensalt(rounds=4)).decode()
        stored = prefix + stored[4:]
        assert is_bcrypt_hash(stored)
        assert verify_password(stored, "old password 1")
        assert not verify_password(stored, "old password 2")
        assert password_needs_rehash(stored)


def test_argon2id_hashes_are_not_bcrypt() -> None:
    stored = hash_password("a new password")
    assert not is_bcrypt_hash(stored)
    assert not password_needs_rehash(stored)
    assert password_needs_rehash("not a hash at all")
    assert not verify_password("$2b$04$short", "x")

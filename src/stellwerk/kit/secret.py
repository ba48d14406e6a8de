"""Generating, hashing and sealing secrets: passwords (argon2id), tokens and keys (SHA-256),
values kept for later use (Fernet under a purpose key derived from the master key).

Imported users may bring bcrypt hashes along; they are checked as such and replaced by argon2id
at the next successful login (`password_needs_rehash`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import string

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.fernet import Fernet, InvalidToken

# argon2id with the library's RFC 9106 "low memory" profile: 64 MiB, 3 passes, 4 lanes.
_hasher = PasswordHasher()
# Verified against when a user does not exist, so both paths cost the same.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

ALPHANUMERIC = string.ascii_uppercase + string.ascii_lowercase + string.digits
# `$2a$`, `$2b$` or `$2y$`, the cost, then 53 characters of salt and hash.
_BCRYPT = re.compile(r"^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def is_bcrypt_hash(password_hash: str) -> bool:
    return bool(_BCRYPT.fullmatch(password_hash))


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not there is a hash to check against."""
    if password_hash is not None and is_bcrypt_hash(password_hash):
        # bcrypt reads at most 72 bytes; longer passwords were cut there when hashed too.
        return bcrypt.checkpw(password.encode()[:72], password_hash.encode())
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    if is_bcrypt_hash(password_hash):
        return True
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def hash_token(token: str) -> str:
    """Tokens carry 256 random bits, so a plain SHA-256 is a safe, fast lookup key."""
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def random_string(length: int, alphabet: str = ALPHANUMERIC) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def random_password(length: int = 20) -> str:
    return random_string(length)


class SealedSecretUnreadable(ValueError):
    """A sealed value that this key cannot open (another master key, or damaged)."""


def seal(key: bytes, plain: str) -> str:
    """Encrypt `plain` under a 32-byte purpose key (`Runtime.key_for(...)`)."""
    return Fernet(base64.urlsafe_b64encode(key)).encrypt(plain.encode()).decode()


def unseal(key: bytes, sealed: str) -> str:
    try:
        return Fernet(base64.urlsafe_b64encode(key)).decrypt(sealed.encode()).decode()
    except InvalidToken as error:
        raise SealedSecretUnreadable("cannot decrypt with this key") from error

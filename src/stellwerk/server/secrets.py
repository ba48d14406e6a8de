"""Provider API keys at rest: Fernet tokens under keys derived from the master key.

A stored value is `v<generation>:<Fernet token>`; the key of generation N is
`derive_key(master, "provider-secrets:vN")`. New values use the newest generation in use.
`stellwerk secrets rotate` moves every value to generation N+1 (MultiFernet.rotate), after which
the keys of older generations decrypt nothing that is stored.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from stellwerk.exceptions import StellwerkError
from stellwerk.keyfile import derive_key

PREFIX = "v"


class SecretUnreadable(StellwerkError):
    status_code = 500
    default_code = "secret_unreadable"


class SecretBox:
    def __init__(self, master_key: bytes) -> None:
        self._master = master_key

    def key(self, generation: int) -> bytes:
        raw = derive_key(self._master, f"provider-secrets:v{generation}")
        return base64.urlsafe_b64encode(raw)

    def _fernet(self, generation: int) -> Fernet:
        return Fernet(self.key(generation))

    def encrypt(self, plain: str, *, generation: int = 1) -> str:
        token = self._fernet(generation).encrypt(plain.encode()).decode()
        return f"{PREFIX}{generation}:{token}"

    def decrypt(self, stored: str) -> str:
        generation, token = self.split(stored)
        try:
            return self._fernet(generation).decrypt(token.encode()).decode()
        except InvalidToken as error:
            raise SecretUnreadable(
                "A stored provider key cannot be decrypted with this master key"
            ) from error

    def rotate(self, stored: str, *, to_generation: int) -> str:
        generation, token = self.split(stored)
        ring = MultiFernet([self._fernet(to_generation), self._fernet(generation)])
        try:
            rotated = ring.rotate(token.encode()).decode()
        except InvalidToken as error:
            raise SecretUnreadable(
                "A stored provider key cannot be decrypted with this master key"
            ) from error
        return f"{PREFIX}{to_generation}:{rotated}"

    @staticmethod
    def split(stored: str) -> tuple[int, str]:
        head, sep, token = stored.partition(":")
        if not sep or not head.startswith(PREFIX) or not head[1:].isdecimal():
            raise SecretUnreadable("A stored provider key has an unknown format")
        return int(head[1:]), token

    @classmethod
    def generation_of(cls, stored: str) -> int:
        return cls.split(stored)[0]

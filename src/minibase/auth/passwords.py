"""Password hashing with argon2id, off the event loop."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()


# Verified against when the email is unknown, so timing does not tell which emails exist.
# A hash of a random, forgotten password, made with the hasher's parameters: it costs exactly
# what a real verification costs, from the first login on.
_UNKNOWN_EMAIL_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$VX3nNRn1CYkVGy978Vj1tg"
    "$efvUsBSQT1v1/rnX2afLCCRljayjcy/e5sEzwZzUV8g"
)


MIN_PASSWORD_LENGTH = 10


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_HASHER.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    def check() -> bool:
        try:
            matches = _HASHER.verify(password_hash or _UNKNOWN_EMAIL_HASH, password)
            return matches and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(check)

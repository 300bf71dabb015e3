"""Passwords are argon2id hashes; an unknown email costs the same time as a wrong password."""

from __future__ import annotations

from argon2 import PasswordHasher

from minibase.auth import passwords


async def test_a_hashed_password_verifies_and_a_wrong_one_does_not() -> None:
    stored = await passwords.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert await passwords.verify_password(stored, "correct horse battery")
    assert not await passwords.verify_password(stored, "correct horse batterY")


async def test_an_unknown_email_verifies_against_a_hash_as_costly_as_a_real_one() -> None:
    # Same parameters as the hasher: the stand-in costs what a real verification costs.
    assert not PasswordHasher().check_needs_rehash(passwords._UNKNOWN_EMAIL_HASH)
    assert not await passwords.verify_password(None, "anything at all")

"""Superusers: they manage collections and users, and bypass record rules."""

from __future__ import annotations

import re
from dataclasses import dataclass

from minibase.auth.caller import Caller
from minibase.auth.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from minibase.auth.revocations import Revocations, revoke_sessions
from minibase.auth.tokens import TokenClaims, TokenSigner
from minibase.clock import Clock, isoformat
from minibase.errors import ApiError
from minibase.ids import IdGenerator
from minibase.store.database import Database, IntegrityViolation

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s.]{1,63}$")


@dataclass(frozen=True, slots=True)
class Admin:
    id: str
    email: str

    def caller(self) -> Caller:
        return Caller(kind="admin", id=self.id)


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL.fullmatch(email):
        raise ApiError("request.invalid_body", 400, f"{email!r} is not an email address")
    return email


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ApiError(
            "request.invalid_body",
            400,
            f"the password needs at least {MIN_PASSWORD_LENGTH} characters",
        )


async def create_admin(
    db: Database, clock: Clock, ids: IdGenerator, email: str, password: str
) -> Admin:
    email = normalize_email(email)
    check_password(password)
    return await insert_admin(db, clock, ids, email, await hash_password(password))


async def insert_admin(
    db: Database, clock: Clock, ids: IdGenerator, email: str, password_hash: str
) -> Admin:
    """Store an admin whose password is already hashed (create_admin hashes it)."""
    email = normalize_email(email)
    admin = Admin(ids.new(), email)
    now = isoformat(clock.now())
    try:
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO admins (id, email, password_hash, created, updated)"
                " VALUES (?, ?, ?, ?, ?)",
                admin.id,
                email,
                password_hash,
                now,
                now,
            )
    except IntegrityViolation:
        raise ApiError("admins.exists", 409, f"an admin with email {email} exists") from None
    return admin


async def authenticate_admin(db: Database, email: str, password: str) -> Admin:
    row = await db.fetch_one(
        "SELECT id, email, password_hash FROM admins WHERE email = ?", email.strip().lower()
    )
    if not await verify_password(row[2] if row else None, password) or row is None:
        raise ApiError("auth.invalid_credentials", 401, "email or password is wrong")
    return Admin(row[0], row[1])


async def admin_exists(db: Database, admin_id: str) -> bool:
    return await db.fetch_value("SELECT 1 FROM admins WHERE id = ?", admin_id) is not None


def issue_admin_token(signer: TokenSigner, ids: IdGenerator, admin: Admin, ttl: int) -> str:
    """An admin token with a session of its own (`sid`, random), which signing out ends."""
    return signer.issue(admin.caller(), ttl, sid=ids.token(16))


async def sign_out_admin(
    db: Database, clock: Clock, revocations: Revocations, claims: TokenClaims
) -> None:
    """End the session of an admin token: it answers `auth.token_revoked` on every process
    within a second, until it would have expired."""
    if claims.session is None:
        raise ApiError(
            "auth.token_not_revocable",
            400,
            "this admin token has no session to end (issued before sign-out existed);"
            " it stays valid until it expires",
        )
    async with db.transaction() as conn:
        await revoke_sessions(conn, clock, [claims.session], revocations.horizon)
    revocations.changed()

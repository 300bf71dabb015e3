"""One account per person: binding a verified phone number, and the explicit merge of two
accounts that turn out to be one person (the same phone bound from two platforms).

Nothing merges silently. Binding a phone that another account holds answers 409 with a
short-lived merge token; the client shows the person what will happen and, if they agree,
sends the token back to `POST /api/auth/merge`. The account that held the phone first stays;
the calling account's identities, roles and records move into it, and the calling account is
deleted (its tokens stop working). The caller gets tokens for the surviving account.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import orjson

from minibase.auth.caller import Caller
from minibase.auth.identities import shown_identities_of
from minibase.auth.merges import record_merge
from minibase.auth.phones import VerifiedPhone
from minibase.auth.sessions import TokenPair
from minibase.auth.users import PHONE_LOOKUP, User, delete_user, get_user, update_user
from minibase.clock import isoformat
from minibase.errors import ApiError
from minibase.platforms.compare import same_text
from minibase.services import Services
from minibase.store.database import Connection, IntegrityViolation

MERGE_TOKEN_TTL = 600
PHONE_CONTEXT = "minibase/phone"


def _merge_key(services: Services) -> bytes:
    return services.vault.derive("minibase/merge-token/v1")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def issue_merge_token(services: Services, source: str, target: str, phone_hash: str) -> str:
    claims = {
        "from": source,
        "into": target,
        "phone": phone_hash,
        "exp": int(services.clock.timestamp()) + MERGE_TOKEN_TTL,
    }
    payload = _b64(orjson.dumps(claims))
    signature = hmac.new(_merge_key(services), payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(signature)}"


def _read_merge_token(services: Services, token: Any, caller_id: str) -> dict[str, Any]:
    invalid = ApiError("users.invalid_merge", 400, "the merge token is invalid or expired")
    if not isinstance(token, str) or token.count(".") != 1:
        raise invalid
    payload, signature = token.split(".")
    expected = _b64(hmac.new(_merge_key(services), payload.encode(), hashlib.sha256).digest())
    if not same_text(expected, signature):
        raise invalid
    try:
        claims: dict[str, Any] = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    except ValueError:
        raise invalid from None
    if claims.get("from") != caller_id or claims.get("exp", 0) < services.clock.timestamp():
        raise invalid
    return claims


async def bind_phone(services: Services, caller: Caller, phone: VerifiedPhone) -> User:
    """Store the phone (sealed) on the caller's account, or offer a merge if it is taken."""
    assert caller.id is not None
    digest = services.vault.keyed_hash(phone.normalized, PHONE_LOOKUP)
    sealed = services.vault.seal(phone.normalized, PHONE_CONTEXT)
    async with services.db.transaction() as conn:
        holder = await conn.fetch_value("SELECT id FROM users WHERE phone_hash = ?", digest)
        if holder is not None and holder != caller.id:
            raise _phone_taken(services, caller.id, holder, digest, phone)
        try:
            await conn.execute(
                "UPDATE users SET phone = ?, phone_hash = ?, phone_hint = ?, updated = ?"
                " WHERE id = ?",
                sealed,
                digest,
                phone.hint,
                isoformat(services.clock.now()),
                caller.id,
            )
        except IntegrityViolation:  # bound elsewhere a moment ago
            raise _phone_taken(services, caller.id, None, digest, phone) from None
        return await get_user(conn, caller.id)


def _phone_taken(
    services: Services, source: str, holder: str | None, digest: str, phone: VerifiedPhone
) -> ApiError:
    details: dict[str, Any] = {"phone": phone.hint}
    if holder is not None:
        details["merge_token"] = issue_merge_token(services, source, holder, digest)
        details["merge_expires_in"] = MERGE_TOKEN_TTL
    return ApiError(
        "users.phone_taken",
        409,
        "this phone number belongs to another account; merge the two to use it here",
        details,
    )


async def merge_accounts(services: Services, caller: Caller, token: Any) -> tuple[User, TokenPair]:
    assert caller.id is not None
    claims = _read_merge_token(services, token, caller.id)
    async with services.db.transaction() as conn:
        target = await get_user(conn, claims["into"])
        source = await get_user(conn, caller.id)
        if target.disabled:
            raise ApiError("users.disabled", 403, "the account to merge into is disabled")
        phone_holder = await conn.fetch_value(
            "SELECT id FROM users WHERE phone_hash = ?", claims["phone"]
        )
        if phone_holder != target.id:
            raise ApiError("users.invalid_merge", 400, "the phone changed hands; bind it again")
        merged = await absorb(services, conn, source, target)
        tokens = await services.sessions.issue(
            conn, merged, platform=caller.platform, appid=caller.appid
        )
    services.revocations.changed()
    return merged, tokens


async def absorb(services: Services, conn: Connection, source: User, target: User) -> User:
    """Move `source`'s platform identities, records and roles into `target` (its profile fills
    what `target`'s lacks), delete `source` and note the merge in the history
    (minibase.auth.merges); `target` as it is now. A guest identity of `source` goes with it:
    whoever holds that phone next must not find `target`. In the caller's transaction; call
    `services.revocations.changed()` after it commits (source's tokens stop)."""
    identities = (await shown_identities_of(conn, [source.id]))[source.id]
    await conn.execute(
        "UPDATE user_identities SET user_id = ? WHERE user_id = ?", target.id, source.id
    )
    records = await _move_records(services, conn, source.id, target.id)
    merged = await _merge_profiles(services, conn, source, target)
    await delete_user(conn, services.clock, source)
    await record_merge(conn, services.clock, source, target, identities, records)
    return merged


async def _move_records(services: Services, conn: Connection, source: str, target: str) -> int:
    moved = 0
    for collection in await services.collections.all():
        moved += await conn.execute(
            f"UPDATE {collection.table} SET _owner = ?,"
            f" data = {conn.dialect.set_owner('data')} WHERE _owner = ?",
            target,
            target,
            source,
        )
    return moved


async def _merge_profiles(services: Services, conn: Connection, source: User, target: User) -> User:
    roles = tuple(dict.fromkeys((*target.roles, *source.roles)))
    profile = {**source.profile, **target.profile}
    # new roles void the account's other tokens (they claim fewer), as any change of roles does
    return await update_user(conn, services.clock, target, roles=roles, profile=profile)

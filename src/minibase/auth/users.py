"""End users of the mini program: one account per person, with roles and a public profile.

Platform identities (openid/unionid per app) attach to a user in the platform-login feature;
here is the account itself.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from minibase.auth.revocations import restore_user, revoke_user, void_tokens
from minibase.clock import Clock, isoformat
from minibase.errors import ApiError
from minibase.ids import IdGenerator
from minibase.store.database import Connection, Row, json_column
from minibase.vault import Vault

ROLE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_ROLES = 32
MAX_PROFILE_BYTES = 8192
PHONE_LOOKUP = "phone"  # the purpose of phone numbers' keyed hashes


@dataclass(frozen=True, slots=True)
class User:
    id: str
    roles: tuple[str, ...]
    profile: dict[str, Any]
    disabled: bool
    created: str
    updated: str
    phone_hint: str | None = None  # e.g. "138****8000"; the number itself is sealed
    token_version: int = 0  # carried by access tokens; moved on to void those issued before

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "roles": list(self.roles),
            "profile": self.profile,
            "phone": self.phone_hint,
            "disabled": self.disabled,
            "created": self.created,
            "updated": self.updated,
        }


_COLUMNS = "id, roles, profile, disabled, created, updated, phone_hint, token_version"


def _user(row: Row) -> User:
    return User(
        id=row[0],
        roles=tuple(json_column(row[1])),
        profile=json_column(row[2]),
        disabled=bool(row[3]),
        created=row[4],
        updated=row[5],
        phone_hint=row[6],
        token_version=int(row[7]),
    )


def check_roles(roles: Any) -> tuple[str, ...]:
    if not isinstance(roles, list) or len(roles) > MAX_ROLES:
        raise ApiError("request.invalid_body", 400, f"roles must be a list of at most {MAX_ROLES}")
    for role in roles:
        if not isinstance(role, str) or not ROLE.fullmatch(role):
            raise ApiError("request.invalid_body", 400, f"role {role!r} must match {ROLE.pattern}")
    return tuple(dict.fromkeys(roles))


def check_profile(profile: Any) -> dict[str, Any]:
    if not isinstance(profile, dict):
        raise ApiError("request.invalid_body", 400, "profile must be an object")
    if len(orjson.dumps(profile)) > MAX_PROFILE_BYTES:
        raise ApiError("request.invalid_body", 400, f"profile is over {MAX_PROFILE_BYTES} bytes")
    return profile


async def insert_user(
    conn: Connection,
    clock: Clock,
    ids: IdGenerator,
    roles: Sequence[str] = (),
    profile: Mapping[str, Any] | None = None,
) -> User:
    now = isoformat(clock.now())
    user = User(ids.new(), tuple(roles), dict(profile or {}), False, now, now)
    await conn.execute(
        f"INSERT INTO users ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
        user.id,
        orjson.dumps(list(user.roles)).decode(),
        orjson.dumps(user.profile).decode(),
        False,
        now,
        now,
        None,
    )
    return user


async def find_user(conn: Connection, user_id: str) -> User | None:
    row = await conn.fetch_one(f"SELECT {_COLUMNS} FROM users WHERE id = ?", user_id)
    return None if row is None else _user(row)


async def get_user(conn: Connection, user_id: str) -> User:
    user = await find_user(conn, user_id)
    if user is None:
        raise ApiError("users.not_found", 404, f"no user {user_id!r}")
    return user


async def update_user(
    conn: Connection,
    clock: Clock,
    user: User,
    *,
    roles: Sequence[str] | None = None,
    profile: Mapping[str, Any] | None = None,
    disabled: bool | None = None,
) -> User:
    """Change a user. A change of roles voids the user's access tokens (they claim the old
    roles: a refresh gives the new ones); disabling stops them too (and enabling restores
    them)."""
    changed = dataclasses.replace(
        user,
        roles=tuple(roles) if roles is not None else user.roles,
        profile=dict(profile) if profile is not None else user.profile,
        disabled=disabled if disabled is not None else user.disabled,
        updated=isoformat(clock.now()),
    )
    if changed.disabled and not user.disabled:
        await revoke_user(conn, clock, user.id, "disabled")
    elif user.disabled and not changed.disabled:
        await restore_user(conn, user.id)
    if set(changed.roles) != set(user.roles):
        version = await void_tokens(conn, clock, user.id)
        changed = dataclasses.replace(changed, token_version=version)
    await conn.execute(
        "UPDATE users SET roles = ?, profile = ?, disabled = ?, updated = ? WHERE id = ?",
        orjson.dumps(list(changed.roles)).decode(),
        orjson.dumps(changed.profile).decode(),
        changed.disabled,
        changed.updated,
        user.id,
    )
    return changed


async def delete_user(conn: Connection, clock: Clock, user: User) -> None:
    """Delete the account with its identities and refresh tokens; its access tokens stop.

    Records it owns stay, with `_owner` still naming it."""
    await conn.execute("DELETE FROM users WHERE id = ?", user.id)
    await revoke_user(conn, clock, user.id, "deleted")


async def find_user_by_phone(conn: Connection, vault: Vault, phone: str) -> User | None:
    """`+8613800138000`, `8613800138000` or (mainland) `13800138000`."""
    digits = phone.strip().lstrip("+")
    if not digits.isdigit():
        return None
    candidates = [f"+{digits}"] if len(digits) != 11 else [f"+86{digits}", f"+{digits}"]
    for candidate in candidates:
        digest = vault.keyed_hash(candidate, PHONE_LOOKUP)
        row = await conn.fetch_one(f"SELECT {_COLUMNS} FROM users WHERE phone_hash = ?", digest)
        if row is not None:
            return _user(row)
    return None


async def list_users(
    conn: Connection,
    *,
    after: str | None,
    limit: int,
    openid: str | None = None,
    unionid: str | None = None,
) -> list[User]:
    """Users in id order after `after`; with `openid` or `unionid`, those holding a platform
    identity of it (any platform, any app)."""
    sql, params = list_users_statement(after=after, limit=limit, openid=openid, unionid=unionid)
    return [_user(row) for row in await conn.fetch_all(sql, *params)]


def list_users_statement(
    *, after: str | None, limit: int, openid: str | None = None, unionid: str | None = None
) -> tuple[str, list[Any]]:
    """The SQL of `list_users` and its parameters (its tests read the plan: an index serves
    each filter)."""
    conditions: list[str] = []
    params: list[Any] = []
    for column, value in (("openid", openid), ("unionid", unionid)):
        if value is not None:
            conditions.append(f"id IN (SELECT user_id FROM user_identities WHERE {column} = ?)")
            params.append(value)
    if after is not None:
        conditions.append("id > ?")
        params.append(after)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f"SELECT {_COLUMNS} FROM users{where} ORDER BY id LIMIT ?", [*params, limit]

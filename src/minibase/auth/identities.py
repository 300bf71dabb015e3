"""Platform identities: the (platform, appid, openid) a person signs in with, attached to one
user. A unionid links a new app's identity to the person's existing account on that platform.

The platform session key is kept sealed with the identity (to decrypt the user's data later)
and never leaves the server.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from minibase.auth.users import User, get_user, insert_user
from minibase.clock import Clock, isoformat
from minibase.ids import IdGenerator
from minibase.platforms import LoginSession
from minibase.store.database import Connection
from minibase.vault import Secret, Vault


@dataclass(frozen=True, slots=True)
class Identity:
    id: str
    user_id: str
    platform: str
    appid: str
    openid: str  # empty for a Douyin guest (see minibase.auth.guests)
    unionid: str | None
    created: str  # its first sign-in
    anonymous_openid: str | None = None  # Douyin, when the login sent an anonymous_code

    @property
    def guest(self) -> bool:
        return not self.openid

    def public(self) -> dict[str, Any]:
        """What the user and admins see: never the session key."""
        shown = {
            "platform": self.platform,
            "appid": self.appid,
            "openid": self.openid or None,
            "unionid": self.unionid,
            "created": self.created,
            "guest": self.guest,
        }
        if self.anonymous_openid is not None:
            shown["anonymous_openid"] = self.anonymous_openid
        return shown


_COLUMNS = "id, user_id, platform, appid, openid, unionid, created"


def session_key_context(platform: str, appid: str, openid: str) -> str:
    return f"minibase/session-key/{platform}/{appid}/{openid}"


async def attach(
    conn: Connection,
    clock: Clock,
    ids: IdGenerator,
    vault: Vault,
    session: LoginSession,
    *,
    new_user: User | None = None,
) -> tuple[User, Identity, bool]:
    """The user of this platform session (created if new); True when the user is new.

    An identity seen for the first time joins its unionid's user, else `new_user` when given
    (a guest account becoming the person's), else a new user.

    Two concurrent first logins of one openid both try to insert the identity; the unique key
    refuses the second, whose transaction the caller retries and then finds the first's user.
    """
    now = isoformat(clock.now())
    sealed = None
    if session.session_key:
        context = session_key_context(session.platform, session.appid, session.openid)
        sealed = vault.seal(session.session_key, context)
    row = await conn.fetch_one(
        "SELECT id, user_id, unionid, created FROM user_identities"
        " WHERE platform = ? AND appid = ? AND openid = ?",
        session.platform,
        session.appid,
        session.openid,
    )
    if row is not None:
        await conn.execute(
            "UPDATE user_identities SET session_key = COALESCE(?, session_key),"
            " unionid = COALESCE(?, unionid), updated = ? WHERE id = ?",
            sealed,
            session.unionid,
            now,
            row[0],
        )
        identity = Identity(
            row[0],
            row[1],
            session.platform,
            session.appid,
            session.openid,
            session.unionid or row[2],
            row[3],
        )
        return await get_user(conn, row[1]), identity, False
    user, is_new = await _user_for_new_identity(conn, clock, ids, session, new_user)
    identity = Identity(
        ids.new(), user.id, session.platform, session.appid, session.openid, session.unionid, now
    )
    await conn.execute(
        "INSERT INTO user_identities (id, user_id, platform, appid, openid, unionid,"
        " session_key, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        identity.id,
        user.id,
        session.platform,
        session.appid,
        session.openid,
        session.unionid,
        sealed,
        now,
        now,
    )
    return user, identity, is_new


async def _user_for_new_identity(
    conn: Connection,
    clock: Clock,
    ids: IdGenerator,
    session: LoginSession,
    new_user: User | None,
) -> tuple[User, bool]:
    if session.unionid:
        linked = await conn.fetch_value(
            "SELECT user_id FROM user_identities WHERE platform = ? AND unionid = ?"
            " ORDER BY created LIMIT 1",
            session.platform,
            session.unionid,
        )
        if linked is not None:
            return await get_user(conn, linked), False
    if new_user is not None:
        return new_user, False
    return await insert_user(conn, clock, ids), True


async def find_identity(
    conn: Connection, user_id: str, platform: str, appid: str
) -> Identity | None:
    row = await conn.fetch_one(
        f"SELECT {_COLUMNS} FROM user_identities"
        " WHERE user_id = ? AND platform = ? AND appid = ? ORDER BY updated DESC LIMIT 1",
        user_id,
        platform,
        appid,
    )
    return None if row is None else Identity(*row)


async def session_key(conn: Connection, vault: Vault, identity: Identity) -> Secret | None:
    sealed = await conn.fetch_value(
        "SELECT session_key FROM user_identities WHERE id = ?", identity.id
    )
    if sealed is None:
        return None
    context = session_key_context(identity.platform, identity.appid, identity.openid)
    return vault.open(sealed, context)


async def list_identities(conn: Connection, user_id: str) -> list[Identity]:
    return (await identities_of(conn, [user_id]))[user_id]


async def identities_of(conn: Connection, user_ids: Sequence[str]) -> dict[str, list[Identity]]:
    """The platform identities of each of these users, first signed in first (one query)."""
    return await _identities_of(conn, user_ids, guests=False)


async def shown_identities_of(
    conn: Connection, user_ids: Sequence[str]
) -> dict[str, list[Identity]]:
    """What a user's page shows: its platform identities and its Douyin guest identities
    (openid empty, anonymous_openid set), first signed in first."""
    return await _identities_of(conn, user_ids, guests=True)


def shown_user(user: User, identities: Sequence[Identity]) -> dict[str, Any]:
    """A user as the user and admins see them, in every answer that returns one: with the
    identities they sign in with (`shown_identities_of`)."""
    return {**user.public(), "identities": [identity.public() for identity in identities]}


async def shown_users(conn: Connection, users: Sequence[User]) -> list[dict[str, Any]]:
    """`shown_user` for each of these users (one query)."""
    linked = await shown_identities_of(conn, [user.id for user in users])
    return [shown_user(user, linked[user.id]) for user in users]


async def _identities_of(
    conn: Connection, user_ids: Sequence[str], *, guests: bool
) -> dict[str, list[Identity]]:
    found: dict[str, list[Identity]] = {user_id: [] for user_id in user_ids}
    if not found:
        return found
    marks = ", ".join("?" for _ in found)
    query = f"SELECT {_COLUMNS}, NULL FROM user_identities WHERE user_id IN ({marks})"
    arguments = list(found)
    if guests:
        query += (
            " UNION ALL SELECT id, user_id, platform, appid, '', NULL, created, anonymous_openid"
            f" FROM guest_identities WHERE user_id IN ({marks})"
        )
        arguments += list(found)
    rows = await conn.fetch_all(f"{query} ORDER BY created, id", *arguments)
    for row in rows:
        found[row[1]].append(Identity(*row))
    return found


async def guest_apps(conn: Connection, user_id: str) -> list[tuple[str, str]]:
    """(platform, appid) of each app the user is a Douyin guest of (minibase.auth.guests),
    oldest first."""
    rows = await conn.fetch_all(
        "SELECT platform, appid FROM guest_identities WHERE user_id = ? ORDER BY created",
        user_id,
    )
    return [(row[0], row[1]) for row in rows]

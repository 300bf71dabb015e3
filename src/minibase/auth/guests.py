"""Douyin guests: people who use a mini program without being logged in to the Douyin app.

tt.login gives such a person no `code`, only an `anonymousCode`; Douyin's code2session turns it
into an `anonymous_openid` (the same on one phone, whoever holds it) and no openid, unionid or
session key. A guest login gives the guest an account of their own, found again by that
anonymous_openid (a row of `guest_identities`, apart from the platform identities).

When the person logs in to Douyin later, tt.login gives both codes and the client sends both:
Douyin answers the openid and the anonymous_openid, and the guest's account joins the
person's (what Douyin's documentation calls syncing the anonymous user's data):

- a person new to the app (and to its unionid): the guest's account becomes theirs — the same
  user id, records, roles and profile — with the platform identity attached;
- a person who has an account: the guest's records and roles move into it, its profile fills
  what the account's lacks, and the guest's account is deleted (its tokens stop) — the same
  steps as an explicit merge (minibase.auth.accounts).

Either way the guest identity is then gone: the next guest on that phone gets a new account,
never the logged-in person's. A disabled guest account joins nothing and stays as it is.
"""

from __future__ import annotations

from minibase.auth.accounts import absorb
from minibase.auth.identities import Identity
from minibase.auth.users import User, get_user, insert_user
from minibase.clock import isoformat
from minibase.platforms import LoginSession
from minibase.services import Services
from minibase.store.database import Connection


async def _find(conn: Connection, session: LoginSession) -> tuple[str, str, str] | None:
    """(guest identity id, user id, first visit) of the session's anonymous_openid."""
    row = await conn.fetch_one(
        "SELECT id, user_id, created FROM guest_identities"
        " WHERE platform = ? AND appid = ? AND anonymous_openid = ?",
        session.platform,
        session.appid,
        session.anonymous_openid,
    )
    return None if row is None else (row[0], row[1], row[2])


async def sign_in(
    services: Services, conn: Connection, session: LoginSession
) -> tuple[User, Identity, bool]:
    """The guest's account (created on their first visit); True when it is new."""
    assert session.guest
    assert session.anonymous_openid is not None
    now = isoformat(services.clock.now())
    found = await _find(conn, session)
    if found is not None:
        identity_id, user_id, created = found
        await conn.execute("UPDATE guest_identities SET updated = ? WHERE id = ?", now, identity_id)
        user, is_new = await get_user(conn, user_id), False
    else:
        user, is_new = await insert_user(conn, services.clock, services.ids), True
        identity_id, created = services.ids.new(), now
        # a concurrent first visit of the same guest inserts the same key: the caller retries
        await conn.execute(
            "INSERT INTO guest_identities (id, user_id, platform, appid, anonymous_openid,"
            " created, updated) VALUES (?, ?, ?, ?, ?, ?, ?)",
            identity_id,
            user.id,
            session.platform,
            session.appid,
            session.anonymous_openid,
            now,
            now,
        )
    identity = Identity(
        identity_id,
        user.id,
        session.platform,
        session.appid,
        "",
        None,
        created,
        session.anonymous_openid,
    )
    return user, identity, is_new


async def joining(conn: Connection, session: LoginSession) -> User | None:
    """The guest account a logged-in person's login takes over: the one of the anonymous_openid
    Douyin answered beside the openid, unless it is disabled."""
    if session.guest or session.anonymous_openid is None:
        return None
    found = await _find(conn, session)
    if found is None:
        return None
    guest = await get_user(conn, found[1])
    return None if guest.disabled else guest


async def join(services: Services, conn: Connection, guest: User, user: User) -> User:
    """The guest's account joins `user` (which may be the guest's own account, now the
    person's); the person's account as it is now. The guest identity is retired: with the
    guest's account when it goes into another (the merge history lists it)."""
    if guest.id == user.id:
        await conn.execute("DELETE FROM guest_identities WHERE user_id = ?", guest.id)
        return user
    return await absorb(services, conn, guest, user)

"""The history of account merges. Whenever an account goes into another (two accounts of one
person merged explicitly, a Douyin guest joining the person's account: see
minibase.auth.accounts.absorb), a row says which went into which, when, with which platform
identities and how many records, written in the merge's transaction. The admin reads it as a
user's `merged_from`, and an id merged away leads to the account it went into.

The identities are kept as an admin sees them (platform, appid, openid; a guest's
anonymous_openid), never with a session key or a phone number. History follows a merged
account: when B, which had absorbed A, goes into C, C's history holds both. An admin's delete
of an account forgets its history with it (the openids in it were the person's).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from minibase.auth.identities import Identity
from minibase.auth.users import User, delete_user, find_user
from minibase.clock import Clock, isoformat
from minibase.errors import ApiError
from minibase.store.database import Connection, json_column


@dataclass(frozen=True, slots=True)
class Merge:
    user: str  # the account merged away
    into: str  # the account it went into: the one asked about, or one merged into it later
    merged_at: str
    identities: list[dict[str, Any]]  # those it had: platform, appid, openid, guest
    records: int  # the records it owned, moved with it

    def public(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "into": self.into,
            "merged_at": self.merged_at,
            "identities": self.identities,
            "records": self.records,
        }


def _kept(identity: Identity) -> dict[str, Any]:
    kept: dict[str, Any] = {
        "platform": identity.platform,
        "appid": identity.appid,
        "openid": identity.openid or None,
        "guest": identity.guest,
    }
    if identity.anonymous_openid is not None:
        kept["anonymous_openid"] = identity.anonymous_openid
    return kept


async def record_merge(
    conn: Connection,
    clock: Clock,
    source: User,
    target: User,
    identities: Sequence[Identity],
    records: int,
) -> None:
    """Note that `source` went into `target` with these identities and records (in the
    merge's transaction)."""
    await conn.execute(
        "INSERT INTO user_merges (source_user_id, target_user_id, merged_at, identities, records)"
        f" VALUES (?, ?, ?, {conn.dialect.json_param()}, ?)",
        source.id,
        target.id,
        isoformat(clock.now()),
        orjson.dumps([_kept(identity) for identity in identities]).decode(),
        records,
    )


# The accounts merged into ? directly, or into one of those, and so on.
_MERGED_INTO_IT = """WITH RECURSIVE merged (user_id) AS (
    SELECT source_user_id FROM user_merges WHERE target_user_id = ?
    UNION
    SELECT m.source_user_id FROM user_merges m JOIN merged ON m.target_user_id = merged.user_id)
"""


async def merged_from(conn: Connection, user_id: str) -> list[Merge]:
    """Every account merged into this one, directly or through an account merged into it,
    newest first."""
    rows = await conn.fetch_all(
        f"{_MERGED_INTO_IT}SELECT source_user_id, target_user_id, merged_at, identities, records"
        " FROM user_merges WHERE source_user_id IN (SELECT user_id FROM merged)"
        " ORDER BY merged_at DESC, source_user_id DESC",
        user_id,
    )
    return [Merge(row[0], row[1], row[2], json_column(row[3]), int(row[4])) for row in rows]


async def merged_into(conn: Connection, user_id: str) -> str | None:
    """The account an id merged away lives on in (following later merges of the account it
    went into); None for an id never merged."""
    into: str | None = await conn.fetch_value(
        "WITH RECURSIVE chain (user_id, steps) AS ("
        " SELECT target_user_id, 1 FROM user_merges WHERE source_user_id = ?"
        " UNION ALL"
        " SELECT m.target_user_id, chain.steps + 1 FROM user_merges m"
        " JOIN chain ON m.source_user_id = chain.user_id)"
        " SELECT user_id FROM chain ORDER BY steps DESC LIMIT 1",
        user_id,
    )
    return into


async def get_user_or_merged(conn: Connection, user_id: str) -> User:
    """The user; 404 `users.not_found` if there is none, whose `details.merged_into` names the
    live account when this one was merged away."""
    user = await find_user(conn, user_id)
    if user is not None:
        return user
    into = await merged_into(conn, user_id)
    if into is None:
        raise ApiError("users.not_found", 404, f"no user {user_id!r}")
    message = f"user {user_id!r} was merged into {into!r}"
    raise ApiError("users.not_found", 404, message, {"merged_into": into})


async def delete_user_and_history(conn: Connection, clock: Clock, user: User) -> None:
    """An admin's delete: the account (minibase.auth.users.delete_user) and its merge
    history."""
    await conn.execute(
        f"{_MERGED_INTO_IT}DELETE FROM user_merges"
        " WHERE source_user_id IN (SELECT user_id FROM merged)",
        user.id,
    )
    await delete_user(conn, clock, user)

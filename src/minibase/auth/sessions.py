"""Access + refresh token pairs. Refresh tokens rotate on every use and live in families:
using a rotated token again (a stolen copy, most likely) revokes the whole family.

Revoking a family (reuse, logout) or every session of a user (sign out everywhere) stops their
access tokens too, within a second on every process (see minibase.auth.revocations).

Only a SHA-256 of a refresh token is stored, so a database leak gives no usable tokens.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from minibase.auth.caller import Caller
from minibase.auth.revocations import Revocations, revoke_sessions, void_tokens
from minibase.auth.tokens import TokenSigner
from minibase.auth.users import User, find_user
from minibase.clock import Clock, isoformat
from minibase.errors import ApiError
from minibase.ids import IdGenerator
from minibase.store.database import Connection, Database


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": self.refresh_token,
            "refresh_expires_in": self.refresh_expires_in,
        }


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Sessions:
    def __init__(
        self,
        signer: TokenSigner,
        clock: Clock,
        ids: IdGenerator,
        access_ttl: int,
        refresh_ttl: int,
        revocations: Revocations,
    ) -> None:
        self._signer = signer
        self._revocations = revocations
        self._clock = clock
        self._ids = ids
        self._access_ttl = access_ttl
        self._refresh_ttl = refresh_ttl

    def caller_for(
        self, user: User, platform: str | None = None, appid: str | None = None
    ) -> Caller:
        return Caller(kind="user", id=user.id, roles=user.roles, platform=platform, appid=appid)

    async def issue(
        self,
        conn: Connection,
        user: User,
        *,
        platform: str | None = None,
        appid: str | None = None,
        family_id: str | None = None,
        parent_id: str | None = None,
    ) -> TokenPair:
        """A new pair; a new family unless rotating within one."""
        if user.disabled:
            raise ApiError("users.disabled", 403, "the user is disabled")
        now = self._clock.now()
        refresh = self._ids.token()
        token_id = self._ids.new()
        family = family_id or token_id
        await conn.execute(
            "INSERT INTO refresh_tokens (id, token_hash, family_id, user_id, created, expires,"
            " platform, appid, parent_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            token_id,
            _digest(refresh),
            family,
            user.id,
            isoformat(now),
            isoformat(now + timedelta(seconds=self._refresh_ttl)),
            platform,
            appid,
            parent_id,
        )
        caller = self.caller_for(user, platform, appid)
        access = self._signer.issue(caller, self._access_ttl, sid=family, ver=user.token_version)
        return TokenPair(access, refresh, self._access_ttl, self._refresh_ttl)

    async def rotate(self, db: Database, refresh_token: str) -> TokenPair:
        """Trade a refresh token for a new pair. Reuse of a rotated token revokes its family."""
        reused_family: str | None = None
        async with db.transaction() as conn:
            row = await conn.fetch_one(
                "SELECT id, family_id, user_id, expires, used_at, revoked_at, platform, appid"
                " FROM refresh_tokens WHERE token_hash = ?",
                _digest(refresh_token),
            )
            if row is None or row[5] is not None or row[3] <= isoformat(self._clock.now()):
                raise _invalid_refresh()
            token_id, family_id, user_id = row[0], row[1], row[2]
            now = isoformat(self._clock.now())
            claimed = await conn.execute(
                "UPDATE refresh_tokens SET used_at = ? WHERE id = ? AND used_at IS NULL",
                now,
                token_id,
            )
            if claimed == 1:
                user = await find_user(conn, user_id)
                if user is None:
                    raise _invalid_refresh()
                return await self.issue(
                    conn,
                    user,
                    platform=row[6],
                    appid=row[7],
                    family_id=family_id,
                    parent_id=token_id,
                )
            reused_family = family_id
        # Outside the failed branch's transaction: the revocation must commit.
        await self.revoke_family(db, reused_family)
        raise ApiError(
            "auth.refresh_token_reused",
            401,
            "this refresh token was already used; every token of its session is revoked",
        )

    async def revoke_family(self, db: Database, family_id: str) -> None:
        """End one session: its refresh tokens and its access tokens stop."""
        async with db.transaction() as conn:
            await conn.execute(
                "UPDATE refresh_tokens SET revoked_at = ?"
                " WHERE family_id = ? AND revoked_at IS NULL",
                isoformat(self._clock.now()),
                family_id,
            )
            await revoke_sessions(conn, self._clock, [family_id], self._revocations.horizon)
        self._revocations.changed()

    async def revoke_token(self, db: Database, refresh_token: str) -> None:
        """Log out: revoke the family the token belongs to (unknown tokens are ignored)."""
        row = await db.fetch_one(
            "SELECT family_id FROM refresh_tokens WHERE token_hash = ?", _digest(refresh_token)
        )
        if row is not None:
            await self.revoke_family(db, row[0])

    async def revoke_user(self, conn: Connection, user_id: str) -> int:
        """Revoke every refresh token of the user; how many were live."""
        return await conn.execute(
            "UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
            isoformat(self._clock.now()),
            user_id,
        )

    async def sign_out_everywhere(self, conn: Connection, user_id: str) -> int:
        """Every session of the user ends, refresh and access tokens alike; how many refresh
        tokens were live. Call `revocations.changed()` once the transaction commits."""
        await void_tokens(conn, self._clock, user_id)
        return await self.revoke_user(conn, user_id)


def _invalid_refresh() -> ApiError:
    return ApiError(
        "auth.invalid_refresh_token", 401, "the refresh token is unknown, expired or revoked"
    )

"""Platform login: a mini program's one-time code becomes a minibase session.

The code is exchanged with the platform (WeChat, QQ, Douyin, Baidu: jscode2session; Alipay:
alipay.system.oauth.token), the person's identity found or created, and an access + refresh
token pair issued — the same answer on every platform.

Douyin also takes tt.login's `anonymous_code`: alone, it signs a guest in (a person not logged
in to the Douyin app); beside the code, it lets a guest's account join the person's (see
minibase.auth.guests).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from minibase.auth import guests
from minibase.auth.identities import Identity, attach, shown_identities_of, shown_user
from minibase.auth.sessions import TokenPair
from minibase.auth.users import User
from minibase.errors import ApiError
from minibase.gateway import platform_failure
from minibase.platforms import PLATFORMS, LoginSession, PlatformError
from minibase.services import Services
from minibase.store.database import Connection, IntegrityViolation

MAX_CODE_LENGTH = 512
_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class LoginResult:
    user: User
    identity: Identity
    tokens: TokenPair
    is_new_user: bool
    merged_guest: str | None = None  # the guest account that joined this one, deleted
    identities: tuple[Identity, ...] = ()  # every one the user signs in with, this one too

    def to_json(self) -> dict[str, Any]:
        identity = self.identity.public()
        if self.identity.platform == "douyin":
            identity["anonymous_openid"] = self.identity.anonymous_openid
        return {
            **self.tokens.to_json(),
            "user": shown_user(self.user, self.identities),
            "identity": identity,
            "is_new_user": self.is_new_user,
            "merged_guest": self.merged_guest,
        }


def check_platform(platform: str) -> str:
    if platform not in PLATFORMS:
        raise ApiError(
            "request.not_found", 404, f"no platform {platform!r}; use {', '.join(PLATFORMS)}"
        )
    return platform


def _check_code(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_CODE_LENGTH:
        raise ApiError("request.invalid_body", 400, f"{name} must be the code the client got")
    return value


async def exchange_code(
    services: Services, platform: str, appid: Any, code: Any, anonymous_code: Any = None
) -> LoginSession:
    """The platform's answer to the codes: `code`, and on Douyin `anonymous_code` with it or
    alone (a guest)."""
    if not isinstance(appid, str) or not appid:
        raise ApiError("request.invalid_body", 400, "appid is the mini program's app id")
    login_code = _check_code("code", code)
    anonymous = _check_code("anonymous_code", anonymous_code)
    if anonymous is not None and platform != "douyin":
        raise ApiError("request.invalid_body", 400, "anonymous_code is for douyin only")
    if login_code is None and anonymous is None:
        wanted = "code or anonymous_code" if platform == "douyin" else "code"
        raise ApiError("request.invalid_body", 400, f"{wanted} must be the code the client got")
    app = await services.apps.get(check_platform(platform), appid)
    client = services.platforms.client(app)
    try:
        if anonymous is not None:
            session: LoginSession = await client.code2session(login_code, anonymous_code=anonymous)
        else:
            session = await client.code2session(login_code)
    except PlatformError as exc:
        raise platform_failure(exc) from None
    return session


async def login(
    services: Services, platform: str, appid: Any, code: Any, anonymous_code: Any = None
) -> LoginResult:
    session = await exchange_code(services, platform, appid, code, anonymous_code)
    for attempt in range(_ATTEMPTS):
        try:
            async with services.db.transaction() as conn:
                result = await _sign_in(services, conn, session)
            if result.merged_guest is not None:
                services.revocations.changed()  # the guest account is gone, with its tokens
            return result
        except IntegrityViolation:
            # Another login of the same new person committed first; now it will be found.
            if attempt == _ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def _sign_in(services: Services, conn: Connection, session: LoginSession) -> LoginResult:
    if session.guest:
        user, identity, is_new = await guests.sign_in(services, conn, session)
        merged = None
    else:
        guest = await guests.joining(conn, session)
        user, identity, is_new = await attach(
            conn, services.clock, services.ids, services.vault, session, new_user=guest
        )
        identity = dataclasses.replace(identity, anonymous_openid=session.anonymous_openid)
        merged = None
        if guest is not None:
            user = await guests.join(services, conn, guest, user)
            merged = guest.id if guest.id != user.id else None
    tokens = await services.sessions.issue(
        conn, user, platform=session.platform, appid=session.appid
    )
    linked = (await shown_identities_of(conn, [user.id]))[user.id]
    return LoginResult(user, identity, tokens, is_new, merged, tuple(linked))

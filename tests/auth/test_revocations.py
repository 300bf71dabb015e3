"""Every process sees a revocation within its check interval, without a read per request, and
forgets it once the tokens it stops have expired."""

from __future__ import annotations

from minibase.auth.caller import Caller
from minibase.auth.revocations import (
    Revocations,
    restore_user,
    revoke_sessions,
    revoke_user,
    void_tokens,
)
from minibase.auth.tokens import TokenClaims
from minibase.auth.users import insert_user
from minibase.clock import FrozenClock
from minibase.errors import ApiError
from minibase.services import Services


def claims(user_id: str, version: int = 0, session: str | None = "s1") -> TokenClaims:
    return TokenClaims(Caller(kind="user", id=user_id), 2**40, session, version)


async def refusal(revocations: Revocations, token: TokenClaims) -> str | None:
    """The code a token is refused with, None if it passes."""
    try:
        await revocations.check(token)
    except ApiError as refused:
        return refused.code
    return None


def elsewhere(services: Services, now: list[float]) -> Revocations:
    """The revocation list of another process, whose monotonic clock the test moves."""
    return Revocations(
        services.db,
        services.clock,
        services.settings.access_token_ttl,
        check_interval=1.0,
        monotonic=lambda: now[0],
    )


async def test_another_process_sees_each_kind_of_revocation_after_its_check_interval(
    services: Services,
) -> None:
    now = [0.0]
    other = elsewhere(services, now)
    await other.load()
    async with services.db.transaction() as conn:
        user = await insert_user(conn, services.clock, services.ids)
    old = claims(user.id, version=0, session="s1")

    async with services.db.transaction() as conn:
        version = await void_tokens(conn, services.clock, user.id)
    assert version == 1
    assert await refusal(other, old) is None  # within the interval: the cached list
    now[0] = 1.5
    assert await refusal(other, old) == "auth.token_revoked"
    assert await refusal(other, claims(user.id, version=1, session="s1")) is None

    async with services.db.transaction() as conn:
        await revoke_sessions(conn, services.clock, ["s1"], other.horizon)
    now[0] = 3.0
    assert await refusal(other, claims(user.id, version=1, session="s1")) == "auth.token_revoked"
    assert await refusal(other, claims(user.id, version=1, session="s2")) is None

    async with services.db.transaction() as conn:
        await revoke_user(conn, services.clock, user.id, "disabled")
    now[0] = 4.5
    assert await refusal(other, claims(user.id, version=1, session="s2")) == "auth.user_revoked"
    async with services.db.transaction() as conn:
        await restore_user(conn, user.id)
    now[0] = 6.0
    assert await refusal(other, claims(user.id, version=1, session="s2")) is None


async def test_between_checks_no_query_is_made(services: Services) -> None:
    now = [0.0]
    revocations = elsewhere(services, now)
    await revocations.load()
    await services.db.close()  # any query would now fail
    assert await refusal(revocations, claims("u1")) is None


async def test_admin_tokens_are_not_held_by_user_revocations(services: Services) -> None:
    admin = TokenClaims(Caller(kind="admin", id="a1"), 2**40)
    async with services.db.transaction() as conn:
        await revoke_user(conn, services.clock, "a1", "deleted")
    services.revocations.changed()
    assert await refusal(services.revocations, admin) is None


async def test_revocations_are_forgotten_once_the_tokens_they_stop_have_expired(
    services: Services, clock: FrozenClock
) -> None:
    async with services.db.transaction() as conn:
        users = [await insert_user(conn, services.clock, services.ids) for _ in range(3)]
        await void_tokens(conn, clock, users[0].id)
        await revoke_sessions(conn, clock, ["s1", "s2"], services.revocations.horizon)
        await revoke_user(conn, clock, users[1].id, "deleted")
        await revoke_user(conn, clock, users[2].id, "disabled")
    await services.revocations.load()
    assert services.revocations.size == 5

    clock.advance(seconds=services.revocations.horizon + 1)
    await services.revocations.load()
    assert services.revocations.size == 1  # the disabled user, until enabled again
    # every token those revocations stopped has expired by now
    assert services.revocations.horizon > services.settings.access_token_ttl
    async with services.db.transaction() as conn:
        await revoke_sessions(conn, clock, ["s3"], services.revocations.horizon)
    assert await services.db.fetch_all("SELECT family_id FROM revoked_sessions") == [("s3",)]

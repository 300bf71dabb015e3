"""Every process sees a revocation within its check interval, without a read per request."""

from __future__ import annotations

from minibase.auth.revocations import RevokedUsers, restore_user, revoke_user
from minibase.services import Services


async def test_another_process_sees_a_revocation_after_its_check_interval(
    services: Services,
) -> None:
    now = [0.0]
    elsewhere = RevokedUsers(services.db, check_interval=1.0, monotonic=lambda: now[0])
    await elsewhere.load()
    async with services.db.transaction() as conn:
        await revoke_user(conn, services.clock, "u1", "disabled")
    assert not await elsewhere.is_revoked("u1")  # within the interval: the cached set
    now[0] = 1.5
    assert await elsewhere.is_revoked("u1")
    async with services.db.transaction() as conn:
        await restore_user(conn, "u1")
    now[0] = 3.0
    assert not await elsewhere.is_revoked("u1")


async def test_between_checks_no_query_is_made(services: Services) -> None:
    now = [0.0]
    revoked = RevokedUsers(services.db, check_interval=1.0, monotonic=lambda: now[0])
    await revoked.load()
    await services.db.close()  # any query would now fail
    assert not await revoked.is_revoked("u1")

"""Each engine holds a statement with $regex work to `regex_budget`, whatever it spends the time
on, and the budget ends with that statement: the next one on the connection has none."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from minibase.config import Settings
from minibase.errors import ApiError
from minibase.services import database_for
from minibase.store.database import Database

BUDGET = 0.05
SLACK = 1.0


def _counting(to: int, where: str = "") -> str:
    """A statement that spends its time counting, not matching (portable SQL)."""
    return (
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {to})"
        f" SELECT count(*) FROM n{where}"
    )


def _with_regex_work(db: Database, to: int) -> str:
    # Always true without a match: the time goes to counting, between matches.
    matches = db.dialect.regex_match("'a'", ignore_case=False)
    return _counting(to, f" WHERE i > 0 OR {matches}")


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    """The test's database, through one connection (one reader thread, a pool of one)."""
    opened = database_for(
        settings.replace(regex_budget=BUDGET, sqlite_readers=1, postgres_pool_size=1)
    )
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def test_a_statement_with_regex_work_stops_at_its_budget_even_between_matches(
    db: Database,
) -> None:
    started = time.perf_counter()
    with pytest.raises(ApiError) as raised:
        await db.fetch_value(_with_regex_work(db, 50_000_000), "a")

    assert time.perf_counter() - started < BUDGET + SLACK
    assert raised.value.code == "records.invalid_filter"
    assert raised.value.details == {"budget_ms": 50}


async def test_the_budget_ends_with_its_statement(db: Database) -> None:
    """A statement without regex work that takes several budgets runs to its end right after
    a spent one, on the same connection: in a reader, and inside a transaction."""
    async with db.reader() as reader:
        with pytest.raises(ApiError):
            await reader.fetch_value(_with_regex_work(db, 50_000_000), "a")
        assert await reader.fetch_value(_counting(1_000_000)) == 1_000_000
        assert await reader.fetch_value(_with_regex_work(db, 1000), "a") == 1000

    async with db.transaction() as tx:
        assert await tx.fetch_value(_with_regex_work(db, 1000), "a") == 1000
        assert await tx.fetch_value(_counting(1_000_000)) == 1_000_000

"""Each statement of a $regex query (the page, the count, a bulk filter) has one time budget
for all its regex work (`regex_budget`, 250 ms): a pattern that backtracks over many values
fails the request with a 400 within the budget instead of holding a connection for seconds,
and other users' reads keep their latency meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from minibase.app import create_app
from minibase.config import Settings
from minibase.services import Services, open_services
from minibase.testing.plugin import Actor, MakeUser

from .conftest import assert_error, create, make_collection, records_url

# What the test machine (2 busy cores, tests in parallel) may add to a budget; far below the
# seconds these attacks took before the budget was per query.
SLACK = 1.0


@dataclass(frozen=True)
class Attack:
    value: str  # what the attacker stores
    copies: int
    pattern: str
    match: str  # a value the pattern matches at once


# Each attack is slow on one engine: Python's backtracking `regex` (SQLite) takes ~25 ms on
# each value of the attack; PostgreSQL's takes seconds on the other's single value.
ATTACKS = {
    "alternation": Attack("a" * 22 + "!", 300, "(a|aa)+$", "aaaa"),
    "nested_counts": Attack("b" * 2000, 1, "((b{0,40}){0,40}){0,6}c", "bc"),
}


def _filter(pattern: str) -> str:
    return orjson.dumps({"t": {"$regex": pattern}}).decode()


async def _plant(
    client: httpx.AsyncClient,
    admin: Actor,
    user: Actor,
    matching: int = 0,
    attacks: Mapping[str, Attack] = ATTACKS,
) -> dict[str, list[str]]:
    """A user's own records holding the attacks' values, after `matching` records each
    attack matches (first in the default order); returns the ids of those, per attack."""
    await make_collection(client, admin, "notes", {"t": {"type": "string"}})
    found: dict[str, list[str]] = {}
    for name, attack in attacks.items():
        records = [{"t": attack.match}] * matching + [{"t": attack.value}] * attack.copies
        response = await client.post(
            records_url("notes", "/bulk-create"), headers=user.headers, json={"records": records}
        )
        assert response.status_code == 201, response.text
        found[name] = [item["_id"] for item in response.json()["items"][:matching]]
    return found


async def _timed_list(
    client: httpx.AsyncClient, headers: dict[str, str], collection: str = "notes", **params: Any
) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = await client.get(records_url(collection), headers=headers, params=params)
    return response, time.perf_counter() - started


def _assert_spent(response: httpx.Response, budget: float) -> None:
    body = assert_error(response, 400, "records.invalid_filter")
    assert "$regex" in body["message"]
    assert f"{round(budget * 1000)} ms" in body["message"]
    assert body["details"] == {"budget_ms": round(budget * 1000)}


@pytest.mark.parametrize("attack", ATTACKS)
async def test_the_attack_answers_within_the_budget(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services, attack: str
) -> None:
    budget = services.settings.regex_budget
    user = await make_user()
    await _plant(client, admin, user)

    response, took = await _timed_list(
        client, user.headers, filter=_filter(ATTACKS[attack].pattern), limit=1
    )

    assert took < budget + SLACK, took
    if response.status_code == 200:  # this engine's regex is quick on this pattern
        assert response.json()["items"] == []
    else:
        _assert_spent(response, budget)


@pytest.mark.parametrize("attack", ATTACKS)
async def test_the_count_has_a_budget_of_its_own(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services, attack: str
) -> None:
    """The page stops at its first matches; the count goes through every value. A request
    with count=true runs two statements, so it answers within two budgets."""
    budget = services.settings.regex_budget
    user = await make_user()
    matching = await _plant(client, admin, user, matching=2)

    response, took = await _timed_list(
        client, user.headers, filter=_filter(ATTACKS[attack].pattern), limit=1, count="true"
    )

    assert took < 2 * budget + SLACK, took
    if response.status_code == 200:
        page = response.json()
        assert [item["_id"] for item in page["items"]] == matching[attack][:1]
        assert page["total"] == 2
    else:
        _assert_spent(response, budget)


async def test_a_regex_that_fits_the_budget_still_filters_the_same_data(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await make_user()
    await _plant(client, admin, user)

    anchored, _ = await _timed_list(
        client, user.headers, filter=_filter("^a{22}!$"), limit=100, count="true"
    )
    ignoring_case = await client.get(
        records_url("notes"),
        headers=user.headers,
        params={"filter": '{"t": {"$regex": "^B+$", "$options": "i"}}', "count": "true"},
    )

    assert anchored.status_code == 200, anchored.text
    assert anchored.json()["total"] == 300
    assert len(anchored.json()["items"]) == 100
    assert ignoring_case.json()["total"] == 1


async def test_bulk_changes_by_a_slow_regex_stop_within_the_budget_and_change_nothing(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    budget = services.settings.regex_budget
    user = await make_user()
    await _plant(client, admin, user)

    for attack in ATTACKS.values():
        for action, extra in (("update", {"update": {"t": "x"}}), ("delete", {})):
            started = time.perf_counter()
            response = await client.post(
                records_url("notes", f"/bulk-{action}"),
                headers=user.headers,
                json={"filter": {"t": {"$regex": attack.pattern}}, **extra},
            )
            assert time.perf_counter() - started < budget + SLACK
            if response.status_code == 200:
                assert response.json()[{"update": "matched", "delete": "deleted"}[action]] == 0
            else:
                _assert_spent(response, budget)
    untouched, _ = await _timed_list(
        client, user.headers, filter=_filter("^[ab]+!?$"), count="true"
    )
    assert untouched.json()["total"] == 301


async def test_other_users_reads_keep_their_latency_while_the_attack_runs(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    """As many attack requests in flight as the server has connections, each sent again as
    soon as it is answered: another user's reads never wait more than one budget (they
    waited seconds when the limit was per value). On SQLite, $regex work never takes the
    last reader thread, so reads hardly wait at all."""
    settings = services.settings
    budget = settings.regex_budget
    attacker, reader = await make_user(), await make_user()
    # Many values each far below the old per-value limit (50 ms), however busy the machine.
    attacks = {**ATTACKS, "alternation": Attack("a" * 19 + "!", 1000, "(a|aa)+$", "aaaa")}
    await _plant(client, admin, attacker, attacks=attacks)
    await make_collection(client, admin, "posts", {"title": {"type": "string"}})
    for n in range(20):
        await create(client, reader.headers, "posts", {"title": f"post {n}"})
    both = {"$or": [{"t": {"$regex": attack.pattern}} for attack in attacks.values()]}
    attackers = settings.sqlite_readers if settings.uses_sqlite else settings.postgres_pool_size
    ends = time.perf_counter() + 1.5

    async def attack() -> None:
        while time.perf_counter() < ends:
            response, _ = await _timed_list(
                client, attacker.headers, filter=orjson.dumps(both).decode()
            )
            _assert_spent(response, budget)

    async def read() -> list[float]:
        waits: list[float] = []
        while time.perf_counter() < ends:
            response, took = await _timed_list(client, reader.headers, collection="posts")
            waits.append(took)
            assert len(response.json()["items"]) == 20
        return waits

    *_, waits = await asyncio.gather(*(attack() for _ in range(attackers)), read())

    assert max(waits) < budget + SLACK, max(waits)
    if settings.uses_sqlite:
        p95 = sorted(waits)[int(len(waits) * 0.95)]
        assert p95 < budget, p95


@asynccontextmanager
async def _one_connection(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """A second app on the test's database whose reads all go through one connection (one
    SQLite reader thread, or a pool of one PostgreSQL connection)."""
    narrowed = settings.replace(sqlite_readers=1, postgres_pool_size=1)
    services = await open_services(narrowed)
    try:
        transport = httpx.ASGITransport(app=create_app(narrowed, services=services))
        async with httpx.AsyncClient(transport=transport, base_url="http://minibase.test") as http:
            yield http
    finally:
        await services.close()


async def test_the_next_query_on_the_same_connection_gets_a_whole_budget_again(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    budget = services.settings.regex_budget
    user = await make_user()
    await _plant(client, admin, user)
    attacked: list[httpx.Response] = []

    async with _one_connection(services.settings) as one:
        for attack in ATTACKS.values():
            response, _ = await _timed_list(one, user.headers, filter=_filter(attack.pattern))
            plain, _ = await _timed_list(one, user.headers, limit=1, count="true")
            fitting, _ = await _timed_list(
                one, user.headers, filter=_filter("^a{22}!$"), count="true"
            )
            assert plain.json()["total"] == 301
            assert fitting.json()["total"] == 300
            attacked.append(response)

    # Each engine is slow on one of the attacks: that one spent the connection's budget.
    _assert_spent(next(r for r in attacked if r.status_code != 200), budget)

"""No filter, however hostile, reaches SQL as text: any JSON sent as a filter answers 200 or a
400 that names the filter, never a 500, and every record is still there afterwards.

Hypothesis drives a sync test, so each engine gets its own event loop, services and database
(a temp SQLite file, or a PostgreSQL database cloned from the template).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minibase.app import create_app
from minibase.auth.caller import Caller
from minibase.config import Settings
from minibase.services import Services, open_services
from minibase.testing import postgres

from .conftest import records_url

MASTER_KEY = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U="
NASTY = [
    "'; DROP TABLE x; --",
    "title' OR '1'='1",
    'a"b',
    "x) OR 1=1 --",
    "data->>'x'",
    "json_extract(data, '$.a')",
    "$.title",
    "%",
    "_",
    "\\",
    "\u0000",
    "(",
    "[[:alpha:]]",
    "a{1,1000}",
    "(?P<x>a)",
    "(?i)a",
    "\\b",
    "中文",
    "?",
    "$1",
    "null",
    "",
]
KEYS = st.one_of(
    st.sampled_from(["title", "score", "tags", "meta", "meta.words", "tags.0", "missing"]),
    st.sampled_from(["_id", "_owner", "_version", "_created", "_updated", "_secret"]),
    st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"]),
    st.sampled_from(["$regex", "$options", "$like", "$and", "$or", "$nor", "$not", "$all"]),
    st.sampled_from(["$where", "$expr", "meta..x", ".", "title\n", "tags.999999", "a.b" * 9]),
    st.sampled_from(NASTY),
    st.text(st.characters(codec="utf-8"), max_size=8),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.integers(-3, 30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(NASTY),
    st.text(st.characters(codec="utf-8"), max_size=12),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)
ANY_JSON = st.one_of(st.dictionaries(KEYS, JSON_VALUES, max_size=4), JSON_VALUES)

# Mostly well-formed filters with hostile values, so most examples reach the SQL.
PATHS = st.sampled_from(
    ["title", "score", "tags", "meta.words", "tags.0", "extra.nested.1", "missing", "_id", "_owner"]
)
TEXT = st.one_of(st.sampled_from(NASTY), st.text(st.characters(codec="utf-8")))
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.integers(-3, 30),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
PATTERNS = st.one_of(
    st.sampled_from(["^a", "a.b", "[a-z]+", "\\d", "'; --", "(?:it)'s", "%", "^$"]),
    st.text("ab.*+?()[]{}^$|\\'%_,0123", max_size=8),
    TEXT,
)
OPERATIONS = st.one_of(
    st.builds(lambda op, v: {op: v}, st.sampled_from(["$eq", "$ne", "$gt", "$gte", "$lt"]), VALUES),
    st.builds(lambda op, v: {op: v}, st.sampled_from(["$in", "$nin", "$all"]), st.lists(VALUES)),
    st.builds(lambda v: {"$exists": v}, st.booleans()),
    st.builds(lambda p, o: {"$regex": p, "$options": o}, PATTERNS, st.sampled_from(["", "i"])),
    st.builds(lambda p: {"$like": p}, PATTERNS),
)
CONDITIONS = st.dictionaries(PATHS, st.one_of(VALUES, OPERATIONS), min_size=1, max_size=3)
WELL_FORMED = st.recursive(
    CONDITIONS,
    lambda inner: st.one_of(
        st.builds(lambda op, items: {op: items}, st.sampled_from(["$and", "$or", "$nor"]),
                  st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda item: {"$not": item}, inner),
    ),
    max_leaves=6,
)  # fmt: skip
FILTERS = st.one_of(WELL_FORMED, WELL_FORMED, ANY_JSON)
SEED = [
    {"title": "apple", "score": 1, "tags": ["a", "b"], "meta": {"words": 3}},
    {"title": "it's", "score": 20, "tags": [], "meta": {}},
    {"title": "'; DROP TABLE x; --", "score": None},
    {"title": "%_\\", "tags": ["%"], "meta": {"words": None}},
    {"title": "中文", "score": -3, "extra": {"nested": [1, "x", None]}},
]


async def _seed(http: httpx.AsyncClient, admin: dict[str, str], user: dict[str, str]) -> list[Any]:
    definition = {
        "name": "things",
        "fields": {"title": {"type": "string"}, "score": {"type": "integer"}},
        "rules": {"preset": "owner_only"},
    }
    response = await http.post("/api/admin/collections", headers=admin, json=definition)
    assert response.status_code == 201, response.text
    for body in SEED:
        response = await http.post(records_url("things"), headers=user, json=body)
        assert response.status_code == 201, response.text
    return await _everything(http, admin)


async def _everything(http: httpx.AsyncClient, admin: dict[str, str]) -> list[Any]:
    response = await http.get(records_url("things"), headers=admin, params={"limit": "100"})
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


OUT_OF_RANGE = "request.integer_out_of_range"  # integers beyond 64 bits, at any depth
NUL = "request.nul_character"  # a string holding NUL, at any depth


async def _try(http: httpx.AsyncClient, user: dict[str, str], where: Any) -> None:
    text = json.dumps(where, ensure_ascii=False)
    listed = await http.get(records_url("things"), headers=user, params={"filter": text})
    bulk = await http.post(
        records_url("things", "/bulk-update"),
        headers=user,
        json={"filter": where, "update": {"$inc": {"title": 1}}},
    )
    for response, allowed in (
        (listed, {"records.invalid_filter", "request.invalid_query", OUT_OF_RANGE, NUL}),
        (
            bulk,
            {
                "records.invalid_filter",
                "records.invalid_update",
                "request.invalid_body",
                OUT_OF_RANGE,
                NUL,
            },
        ),
    ):
        assert "Traceback" not in response.text
        if response.status_code != 200:
            assert response.status_code == 400, (where, response.text)
            assert response.json()["code"] in allowed, (where, response.text)
    if bulk.status_code == 200:
        assert bulk.json()["updated"] == 0, where  # only a filter matching nothing gets here


async def _open(engine: str, tmp_path: Path) -> tuple[Services, str | None]:
    base = Settings(data_dir=tmp_path, master_key=MASTER_KEY)
    database = None
    if engine == "postgres":
        database = await postgres.clone_database()
        base = base.replace(database_url=postgres.url_for(database), postgres_pool_size=2)
    return await open_services(base, migrate_now=True), database


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
@pytest.mark.filterwarnings("ignore:Possible nested set:FutureWarning")  # re on "[[", refused
def test_no_filter_can_break_or_change_the_store(
    engine: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if engine == "postgres":
        request.getfixturevalue("_postgres_template")
    loop = asyncio.new_event_loop()
    services, database = loop.run_until_complete(_open(engine, tmp_path))
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(services.settings, services=services)),
        base_url="http://minibase.test",
    )
    admin = {"Authorization": "Bearer " + services.signer.issue(Caller("admin", "a1"), 600)}
    user = {"Authorization": "Bearer " + services.signer.issue(Caller("user", "u1"), 600)}
    try:
        before = loop.run_until_complete(_seed(http, admin, user))

        @given(where=FILTERS)
        @settings(
            max_examples=250,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        def survives(where: Any) -> None:
            loop.run_until_complete(_try(http, user, where))

        survives()
        assert loop.run_until_complete(_everything(http, admin)) == before
    finally:
        loop.run_until_complete(http.aclose())
        loop.run_until_complete(services.close())
        if database:
            loop.run_until_complete(postgres.drop_database(database))
        loop.close()

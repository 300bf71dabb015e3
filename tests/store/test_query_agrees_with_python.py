"""The SQL the store compiles from a condition selects exactly the records that
`rules.conditions.evaluate` accepts, on SQLite and on PostgreSQL, for any condition.

This is what lets a rule be checked in Python on a new record and in SQL on stored ones, and
what keeps a list filtered by rules correct.
"""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.store.conftest import OnEngine

from minibase.auth.caller import Caller
from minibase.data.definitions import create_collection
from minibase.data.known_paths import checked_filter
from minibase.rules.conditions import (
    And,
    Compare,
    Condition,
    Contains,
    Exists,
    In,
    Like,
    Near,
    Not,
    Or,
    Regex,
    Search,
    WithinBox,
    evaluate,
)
from minibase.rules.filters import Filter
from minibase.services import Services
from minibase.store.query import ConditionCompiler

ADMIN = Caller(kind="admin", id="admin")
TRICKY = [
    "",
    "a",
    "ab",
    "b",
    "B",
    "a%b",
    "a_b",
    "it's",
    '"q"',
    "x'; DROP TABLE users; --",
    "é",
    "中文",
    "a\\b",
    "\n",
    "10",
    "true",
    "null",
    "[1]",
    "a*b",
    "a?b",
    "[a]",
]
PATHS = [
    ("score",),
    ("title",),
    ("done",),
    ("tags",),
    ("meta", "size"),
    ("x",),
    ("x", "y"),
    ("tags", "0"),
    ("x", "0"),
    ("_owner",),
    ("_version",),
    ("_id",),
    ("missing",),
]
DEFINITION = {
    "name": "things",
    "fields": {
        "score": {"type": "integer"},
        "title": {"type": "string"},
        "done": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "meta": {"type": "object", "fields": {"size": {"type": "number"}}},
        "spot": {"type": "geopoint"},
    },
    "indexes": [{"fields": ["title"], "search": True}, {"fields": ["spot"], "geo": True}],
    "rules": {"preset": "admin_only"},
}


def _untyped(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(9 if depth < 2 else 6)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.randint(-3, 3)
    if choice == 3:
        return rng.choice([-1.5, 0.5, 2.0, 2.5])
    if choice in (4, 5):
        return rng.choice(TRICKY)
    if choice in (6, 7):
        return [_untyped(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {"y": _untyped(rng, depth + 1)}


def _document(rng: random.Random) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if rng.random() < 0.8:
        doc["score"] = rng.choice([None, rng.randint(-3, 3)])
    if rng.random() < 0.8:
        doc["title"] = rng.choice([None, *TRICKY])
    if rng.random() < 0.7:
        doc["done"] = rng.choice([True, False, None])
    if rng.random() < 0.7:
        doc["tags"] = rng.sample(TRICKY, rng.randrange(4))
    if rng.random() < 0.6:
        doc["meta"] = {"size": rng.choice([1, 2.5, -1, 0])} if rng.random() < 0.8 else {}
    if rng.random() < 0.85:
        doc["x"] = _untyped(rng)
    if rng.random() < 0.8:  # around Shanghai, and a few far away (the pole, across 180°)
        near = [121.47 + rng.uniform(-0.05, 0.05), 31.23 + rng.uniform(-0.05, 0.05)]
        far = rng.choice([[179.99, 89.9], [-179.99, -10.0], [0.0, 0.0], [121.47, 31.23]])
        doc["spot"] = {"type": "Point", "coordinates": near if rng.random() < 0.85 else far}
    return doc


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-4, 4),
    st.sampled_from([0.5, 2.0, 2.5, -1.5]),
    st.sampled_from(TRICKY),
)
paths = st.sampled_from(PATHS)
leaves = st.one_of(
    st.builds(Compare, st.sampled_from(["eq", "ne", "gt", "gte", "lt", "lte"]), paths, scalars),
    st.builds(In, paths, st.lists(scalars, max_size=4).map(tuple)),
    st.builds(Contains, paths, scalars),
    st.builds(Exists, paths),
    st.builds(
        Regex, paths, st.sampled_from(["^a", "b$", "a.b", "[ab]+", "\\d", "é|中"]), st.booleans()
    ),
    st.builds(Like, paths, st.sampled_from(["a%", "%b", "a_b", "%", "_", "a\\%b", "%'%", "a*%"])),
    st.builds(
        Near,
        st.just(("spot",)),
        st.sampled_from([121.47, 121.5, -179.99, 179.99, 0.0]),
        st.sampled_from([31.23, 31.25, 89.9, -10.0, 0.0]),
        st.sampled_from([500.0, 2000.0, 5000.0, 30000.0, 20_000_000.0]),
        st.sampled_from([0.0, 0.0, 1000.0]),
    ),
    st.builds(
        WithinBox,
        st.just(("spot",)),
        st.sampled_from([121.44, 121.47, -180.0]),
        st.sampled_from([31.2, 31.23, -90.0]),
        st.sampled_from([121.5, 121.47, 180.0]),
        st.sampled_from([31.26, 31.23, 90.0]),
    ),
    st.builds(
        Search,
        st.sampled_from(["ab", "AB", "中文", "it'", '"q', "%b", "a_", "10", "ru", "*b?", "DROP"]),
    ),
)
conditions = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.builds(And, st.lists(inner, min_size=1, max_size=3).map(tuple)),
        st.builds(Or, st.lists(inner, min_size=1, max_size=3).map(tuple)),
        st.builds(Not, inner),
    ),
    max_leaves=6,
)


async def _corpus(services: Services) -> list[dict[str, Any]]:
    from minibase.data.records import create_records

    await create_collection(services, DEFINITION)
    rng = random.Random(20261125)
    bodies = [_document(rng) for _ in range(160)]
    for i, body in enumerate(bodies):
        if i % 3 == 0:
            body["_owner"] = rng.choice([None, "u1", "u2"])
    return await create_records(services, ADMIN, "things", bodies)


async def _select(services: Services, condition: Condition) -> set[str]:
    collection = await services.collections.get("things")
    compiled = ConditionCompiler(services.db.dialect, collection.kind_of).compile(condition)
    rows = await services.db.fetch_all(
        f"SELECT _id FROM {collection.table} WHERE {compiled.sql}", *compiled.params
    )
    return {row[0] for row in rows}


def test_sql_selects_exactly_what_python_evaluates(engine: OnEngine) -> None:
    records = engine.run(_corpus(engine.services))
    collection = engine.run(engine.services.collections.get("things"))

    @given(condition=conditions)
    @settings(
        max_examples=400,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    def agrees(condition: Condition) -> None:
        # a $search found in the collection's search index, as the data layer binds it
        condition = checked_filter(collection, Filter(condition, frozenset()))
        selected = engine.run(_select(engine.services, condition))
        expected = {r["_id"] for r in records if evaluate(condition, r)}
        assert selected == expected

    agrees()

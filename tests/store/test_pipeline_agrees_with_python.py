"""An aggregation gives the same documents on SQLite, on PostgreSQL and in plain Python
(tests/store/pipeline_reference.py), for any pipeline of the stages and operators the API takes,
read by a user whose list rules hide part of both collections it reads."""

from __future__ import annotations

import random
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.store.conftest import OnEngine
from tests.store.pipeline_reference import run

from minibase.auth.caller import Caller
from minibase.data.access import rule_condition
from minibase.data.aggregate import aggregate
from minibase.data.definitions import create_collection
from minibase.data.records import create_records
from minibase.rules.conditions import evaluate
from minibase.rules.pipeline import Pipeline, parse_pipeline
from minibase.services import Services

ADMIN = Caller(kind="admin", id="admin")
READER = Caller(kind="user", id="u1")
TEXTS = ["", "a", "ab", "b", "B", "é", "中文", "it's", "10", "a b"]
TIMES = [  # around DST changes, day and year ends, in several zones
    "2026-03-08T06:59:00.999Z",
    "2026-03-08T07:00:00Z",
    "2026-11-01T05:30:00Z",
    "2026-11-01T06:00:00Z",
    "2026-12-31T16:00:00Z",
    "2026-12-31T23:59:59Z",
    "2027-01-01T00:00:00Z",
    "1991-09-14T15:00:00Z",
    "2026-04-04T15:00:00Z",
    "2026-10-03T15:30:00Z",
]
THINGS = {
    "name": "things",
    "fields": {
        "score": {"type": "integer"},
        "title": {"type": "string"},
        "done": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "meta": {"type": "object", "fields": {"size": {"type": "number"}}},
        "when": {"type": "datetime"},
    },
    "rules": {
        "list": "doc._owner == auth.id || doc.done == true",
        "read": "doc._owner == auth.id || doc.done == true",
        "create": None,
        "update": None,
        "delete": None,
    },
}
OWNERS = {
    "name": "owners",
    "fields": {
        "code": {"type": "number"},
        "name": {"type": "string"},
        "shown": {"type": "boolean"},
    },
    "rules": {"list": "doc.shown == true", "read": "doc.shown == true"},
}


def _untyped(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(8 if depth < 1 else 5)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.choice([-2, 0, 1, 2, 3, 1.5, 2.5, -0.5])
    if choice in (3, 4):
        return rng.choice(TEXTS)
    if choice in (5, 6):
        return [_untyped(rng, depth + 1) for _ in range(rng.randrange(3))]
    return {"y": _untyped(rng, depth + 1)}


def _thing(rng: random.Random) -> dict[str, Any]:
    doc: dict[str, Any] = {"_owner": rng.choice(["u1", "u1", "u2", None])}
    if rng.random() < 0.85:
        doc["score"] = rng.choice([None, rng.randint(-3, 5)])
    if rng.random() < 0.85:
        doc["title"] = rng.choice([None, *TEXTS])
    if rng.random() < 0.8:
        doc["done"] = rng.choice([True, False, None])
    if rng.random() < 0.7:
        doc["tags"] = rng.sample(TEXTS, rng.randrange(4))
    if rng.random() < 0.6:
        doc["meta"] = {"size": rng.choice([1, 2.5, -1, 0, 4])} if rng.random() < 0.8 else {}
    if rng.random() < 0.8:
        doc["when"] = rng.choice(TIMES)
    if rng.random() < 0.85:
        doc["x"] = _untyped(rng)
    return doc


RECORDS_FILTERS = [
    {"score": {"$gt": 0}},
    {"done": True},
    {"title": {"$in": ["a", "b", "中文"]}},
    {"tags": {"$all": ["a"]}},
    {"meta.size": {"$gte": 1}},
    {"x": {"$exists": True}},
    {"$or": [{"score": {"$lt": 0}}, {"title": "a"}]},
    {"when": {"$gte": "2026-06-01"}},
]
DOCUMENT_FILTERS = [
    {"n": {"$gte": 2}},
    {"_id": {"$ne": None}},
    {"total": {"$gt": 0}},
    {"_id.a": True},
    {"tags": "a"},
    {"o.0.name": {"$exists": True}},
    {"score": {"$lte": 2}},
]
KEYS: list[Any] = [
    "$score",
    "$title",
    "$done",
    "$meta.size",
    "$tags.0",
    None,
    {"a": "$done", "b": "$score"},
    {"a": "$title", "b": 1},
]
DATE_FORMATS = ["%Y-%m-%d", "%Y-%m %H:%M", "%d/%m/%Y %%", "%H:%M:%S.%L", "%L%%L", None]
ZONES = ["UTC", "Asia/Shanghai", "America/New_York", "+05:30", "-03:00", "Australia/Lord_Howe"]
OUTPUTS: dict[str, Any] = {
    "n": {"$sum": 1},
    "total": {"$sum": "$score"},
    "fsum": {"$sum": "$meta.size"},
    "mean": {"$avg": "$score"},
    "lo": {"$min": "$x"},
    "hi": {"$max": "$x"},
    "first": {"$min": "$title"},
    "c": {"$count": {}},
    "all": {"$push": "$title"},
    "xs": {"$push": "$x"},
    "set_titles": {"$addToSet": "$title"},
    "set_sizes": {"$addToSet": "$meta.size"},
    "product": {"$sum": {"$multiply": ["$score", "$meta.size"]}},
    "ratio": {"$avg": {"$divide": ["$score", "$meta.size"]}},
    "shifted": {"$max": {"$subtract": ["$score", {"$add": [1, "$meta.size"]}]}},
}
LOOKUPS = [
    {"from": "owners", "localField": "score", "foreignField": "code", "as": "o"},
    {"from": "owners", "localField": "x", "foreignField": "code", "as": "o"},
    {"from": "owners", "localField": "title", "foreignField": "name", "as": "o"},
    {"from": "owners", "localField": "title", "foreignField": "_id", "as": "o"},
]


def _pipeline(rng: random.Random) -> tuple[list[dict[str, Any]], bool]:
    """A pipeline, and whether its answer's order is defined (no $group or $count in it)."""
    stages: list[dict[str, Any]] = []
    on_records, ordered = True, True
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(
            ["match", "sort", "skip", "limit", "group", "project", "unwind", "count", "lookup"]
        )
        if kind == "match":
            pool = RECORDS_FILTERS if on_records else DOCUMENT_FILTERS
            stages.append({"$match": rng.choice(pool)})
        elif kind == "sort":
            names = ["score", "title", "done", "meta.size", "when", "_id", "n", "total"]
            keys = rng.sample(names, rng.randint(1, 2)) if ordered else ["n", "total"]
            stages.append({"$sort": {key: rng.choice([1, -1]) for key in keys}})
        elif kind in ("skip", "limit") and ordered:
            stages.append({f"${kind}": rng.randint(0 if kind == "skip" else 1, 6)})
        elif kind == "group":
            key = rng.choice([*KEYS, "date"] if on_records else KEYS[:6])
            if key == "date":
                spec = {
                    "format": rng.choice(DATE_FORMATS),
                    "date": rng.choice(["$when", "$_created"]),
                    "timezone": rng.choice(ZONES),
                }
                key = {"$dateToString": {k: v for k, v in spec.items() if v is not None}}
            names = rng.sample(sorted(OUTPUTS), rng.randint(1, 5))
            stages.append({"$group": {"_id": key, **{name: OUTPUTS[name] for name in names}}})
            on_records, ordered = False, False
        elif kind == "project":
            stages.append(
                {
                    "$project": rng.choice(
                        [
                            {"title": 1, "score": 1},
                            {"_id": 0, "title": 1, "next": {"$add": ["$score", 1]}},
                            {"ratio": {"$divide": ["$score", "$meta.size"]}, "k": "text"},
                            {"tags": 0},
                            {"meta": 0, "_id": 0, "x": 0},
                            {"n": 1, "total": 1},
                            {"pair": {"t": "$title", "n": "$n"}},
                            {"meta": {"size": 1}, "x.y": 1, "score": 7},
                            {"_id": 0, "meta.size": True, "x": {"y": 1, "z": "$title"}},
                            {"meta": {"size": 0}, "x.y": 0},
                        ]
                    )
                }
            )
            on_records = False
        elif kind == "unwind":
            stages.append(
                {
                    "$unwind": rng.choice(
                        [
                            "$tags",
                            {"path": "$tags", "preserveNullAndEmptyArrays": True},
                            {"path": "$x", "includeArrayIndex": "i"},
                            {
                                "path": "$x",
                                "preserveNullAndEmptyArrays": True,
                                "includeArrayIndex": "i",
                            },
                        ]
                    )
                }
            )
            on_records = False
        elif kind == "count":
            stages.append({"$count": "n"})
            return stages, False
        elif kind == "lookup" and ordered:
            stages.append({"$lookup": rng.choice(LOOKUPS)})
            on_records = False
    if not stages:
        stages.append({"$match": rng.choice(RECORDS_FILTERS)})
    return stages, ordered


def _normal(value: Any) -> Any:
    """Numbers to 9 digits (the engines round float sums their own ways), sets sorted."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(f"{value:.9g}")
    if isinstance(value, list):
        return [_normal(item) for item in value]
    return {
        key: (
            sorted((_normal(v) for v in item), key=_canonical)
            if key.startswith("set_") and isinstance(item, list)
            else _normal(item)
        )
        for key, item in value.items()
    }


def _canonical(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


async def _corpus(services: Services) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    await create_collection(services, THINGS)
    await create_collection(services, OWNERS)
    rng = random.Random(20261208)
    things = await create_records(services, ADMIN, "things", [_thing(rng) for _ in range(120)])
    owners = await create_records(
        services,
        ADMIN,
        "owners",
        [
            {"code": code, "name": rng.choice(TEXTS), "shown": rng.random() < 0.7}
            for code in [-2, 0, 1, 1, 2, 2.5, 3, 5]
        ],
    )
    return things, owners


def test_an_aggregation_gives_what_python_gives(engine: OnEngine) -> None:
    things, owners = engine.run(_corpus(engine.services))
    visible = {}
    for name, records in (("things", things), ("owners", owners)):
        collection = engine.run(engine.services.collections.get(name))
        rule = rule_condition(READER, collection, "list")
        visible[name] = [record for record in records if evaluate(rule, record)]
    assert 0 < len(visible["things"]) < len(things)  # the rule hides some, not all
    assert 0 < len(visible["owners"]) < len(owners)

    @given(seed=st.integers(0, 2**32))
    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    def agrees(seed: int) -> None:
        stages, ordered = _pipeline(random.Random(seed))
        pipeline: Pipeline = parse_pipeline(stages)
        try:
            answer = engine.run(aggregate(engine.services, READER, "things", pipeline))
        except Exception as exc:
            raise AssertionError(stages) from exc
        got = [_normal(item) for item in orjson.loads(answer)["items"]]
        expected = [_normal(doc) for doc in run(pipeline, visible["things"], visible)]
        if not ordered:
            got.sort(key=_canonical)
            expected.sort(key=_canonical)
        assert got == expected, stages

    agrees()

"""A list ranked by a `$search` (most relevant first) or a `$near` (nearest first) comes in the
order Python gives, on SQLite and on PostgreSQL, page after page, whatever the query."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.store.conftest import OnEngine

from minibase.auth.caller import Caller
from minibase.data.definitions import create_collection
from minibase.data.listing import parse_list_query
from minibase.data.records import create_records, list_records
from minibase.rules.conditions import MISSING, ascii_lower, distance, point_of, resolve
from minibase.services import Services

ADMIN = Caller(kind="admin", id="admin")
PIECES = ["拿铁", "咖啡", "ab", "AB", "aB c", "冰", "茶", "x", "中文字", "%", "_"]
PLACES = {
    "name": "places",
    "fields": {
        "title": {"type": "string"},
        "body": {"type": "string"},
        "spot": {"type": "geopoint"},
    },
    "indexes": [{"fields": ["title", "body"], "search": True}, {"fields": ["spot"], "geo": True}],
    "rules": {"preset": "admin_only"},
}
CENTRE = (121.47, 31.23)


def _text(rng: random.Random) -> str:
    return " ".join(rng.choice(PIECES) for _ in range(rng.randrange(5)))


async def _corpus(services: Services) -> list[dict[str, Any]]:
    await create_collection(services, PLACES)
    rng = random.Random(20261208)
    bodies = []
    for _ in range(150):
        body: dict[str, Any] = {}
        if rng.random() < 0.9:
            body["title"] = _text(rng)
        if rng.random() < 0.9:
            body["body"] = _text(rng)
        if rng.random() < 0.9:
            lng, lat = CENTRE[0] + rng.uniform(-0.1, 0.1), CENTRE[1] + rng.uniform(-0.1, 0.1)
            body["spot"] = {"type": "Point", "coordinates": [lng, lat]}
        bodies.append(body)
    return await create_records(services, ADMIN, "places", bodies)


def _relevance(record: dict[str, Any], text: str) -> tuple[int, int] | None:
    needle = ascii_lower(text)
    for n, field in enumerate(("title", "body")):
        value = resolve(record, (field,))
        if value is not MISSING and isinstance(value, str) and needle in ascii_lower(value):
            return n, ascii_lower(value).index(needle) + 1
    return None


async def _walk(services: Services, params: dict[str, str]) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        query = parse_list_query({**params, **({"cursor": cursor} if cursor else {})}, 20, 100)
        page = await list_records(services, ADMIN, "places", query)
        seen += [item["_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


def test_ranked_lists_come_in_the_order_python_gives(engine: OnEngine) -> None:
    records = engine.run(_corpus(engine.services))

    @given(
        text=st.sampled_from(["拿铁", "咖啡", "ab", "Ab", "B c", "中文", "茶 x", "% ", "_ x"]),
        metres=st.sampled_from([1000.0, 3000.0, 8000.0, 20000.0]),
        limit=st.sampled_from(["1", "3", "7", "100"]),
    )
    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    def agrees(text: str, metres: float, limit: str) -> None:
        searched = engine.run(
            _walk(engine.services, {"filter": f'{{"$search": "{text}"}}', "limit": limit})
        )
        ranked = sorted(
            (rank, record["_id"])
            for record in records
            if (rank := _relevance(record, text)) is not None
        )
        assert searched == [record_id for _, record_id in ranked]

        near = (
            '{"spot": {"$near": {"$geometry": {"type": "Point", "coordinates": '
            f'[{CENTRE[0]}, {CENTRE[1]}]}}, "$maxDistance": {metres}}}}}}}'
        )
        nearest = engine.run(_walk(engine.services, {"filter": near, "limit": limit}))
        measured = sorted(
            (metres_away, record["_id"])
            for record in records
            if (point := point_of(resolve(record, ("spot",)))) is not None
            and (metres_away := distance(*point, *CENTRE)) <= metres
        )
        assert nearest == [record_id for _, record_id in measured]

    agrees()

"""A $regex that would backtrack for minutes is stopped, not allowed to hold the server."""

from __future__ import annotations

import httpx
import orjson
from tests.http.records.conftest import create, make_collection, records_url

from minibase.testing.plugin import Actor


async def test_a_catastrophic_regex_fails_fast_instead_of_stalling_reads(
    client: httpx.AsyncClient, admin: Actor, backend: str
) -> None:
    await make_collection(client, admin, "notes", {"text": {"type": "string"}})
    await create(client, admin.headers, "notes", {"text": "a" * 40 + "!"})
    evil = {"text": {"$regex": "(a|aa)+$"}}
    response = await client.get(
        records_url("notes"), params={"filter": orjson.dumps(evil).decode()}
    )
    if backend == "sqlite":
        # Python's backtracking engine hits the per-match time budget.
        assert response.status_code == 400
        assert response.json()["code"] == "records.invalid_filter"
    else:
        # PostgreSQL's regex engine does not backtrack exponentially: it simply answers.
        assert response.status_code == 200
        assert response.json()["items"] == []
    healthy = await client.get(records_url("notes"))
    assert healthy.status_code == 200
    assert len(healthy.json()["items"]) == 1

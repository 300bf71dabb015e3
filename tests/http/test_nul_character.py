"""No string a client sends holds the NUL character: PostgreSQL cannot store it, so neither
engine takes it, anywhere (a body, a filter, the path, the query), and nothing is stored."""

from __future__ import annotations

import httpx
import pytest

from minibase.errors import ApiError
from minibase.services import Services
from minibase.testing.plugin import Actor


def assert_nul_refused(response: httpx.Response, path: str | None = None) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "request.nul_character"
    if path is not None:
        assert body["details"] == {"path": path}


async def test_a_body_string_or_key_holding_nul_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    users = "/api/admin/users"
    in_value = await client.post(
        users, headers=admin.headers, json={"profile": {"nickName": "a\u0000b"}}
    )
    in_key = await client.post(users, headers=admin.headers, json={"profile": {"ni\u0000ck": 1}})
    escaped_backslash = await client.post(
        users, headers=admin.headers, json={"profile": {"nickName": "\\u0000 is fine as text"}}
    )

    assert_nul_refused(in_value, "profile.nickName")
    assert_nul_refused(in_key, "profile.ni\\u0000ck")
    assert escaped_backslash.status_code == 201, escaped_backslash.text
    listed = await client.get(users, headers=admin.headers)
    assert [user["profile"] for user in listed.json()["items"]] == [
        {"nickName": "\\u0000 is fine as text"}
    ]


async def test_the_path_or_query_holding_nul_is_refused(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    query = await client.get("/api/admin/pay/events?order=%00", headers=admin.headers)
    path = await client.get("/api/admin/users/a%00b", headers=admin.headers)
    text = "\u0000"
    encoded = await client.get("/api/admin/jobs", params={"kind": text}, headers=admin.headers)

    for response in (query, path, encoded):
        assert_nul_refused(response)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_postgresql_refusing_nul_is_a_400_not_a_500(services: Services) -> None:
    """What no edge check saw (a cloud function's own string) still meets a clear refusal."""
    for sql in ("SELECT ?::text", "SELECT ?::jsonb"):
        value = "a\u0000b" if sql.endswith("text") else '{"a": "\\u0000"}'
        with pytest.raises(ApiError) as refused:
            await services.db.fetch_value(sql, value)
        assert (refused.value.status, refused.value.code) == (400, "request.nul_character")

"""Every list states its `limit` bounds in the document and keeps them; a filter by state names
the states it knows."""

from __future__ import annotations

import httpx

from minibase.testing.plugin import Actor, MakeUser

ADMIN_LISTS = (
    "/api/admin/users",
    "/api/admin/jobs",
    "/api/admin/messages",
    "/api/admin/pay/orders",
    "/api/admin/push/wechat/{appid}/messages",
)


async def test_every_limit_is_documented_as_1_to_100_and_kept(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    notes = {"name": "notes", "rules": {"preset": "public_read_owner_write"}}
    await client.post("/api/admin/collections", json=notes, headers=admin.headers)
    user = await make_user()
    document = (await client.get("/api/openapi.json")).json()
    lists = [(path, admin.headers) for path in ADMIN_LISTS]
    lists += [("/api/pay/orders", user.headers), ("/api/collections/notes/records", user.headers)]
    for path, headers in lists:
        (limit,) = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == "limit"]
        assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 100), path
        url = path.replace("{appid}", "wx1")
        for value, status in (("1", 200), ("100", 200), ("0", 400), ("101", 400)):
            answer = await client.get(url, params={"limit": value}, headers=headers)
            assert answer.status_code == status, (url, value, answer.text)


async def test_an_unknown_state_is_refused_naming_the_states(
    client: httpx.AsyncClient, admin: Actor
) -> None:
    for path, named in (
        ("/api/admin/jobs", "queued, running"),
        ("/api/admin/pay/orders", "created, paid, refunding, refunded, closed"),
    ):
        answer = await client.get(path, params={"state": "lost"}, headers=admin.headers)
        assert answer.status_code == 400
        assert answer.json()["code"] == "request.invalid_query"
        assert named in answer.json()["message"], answer.json()["message"]
        assert "<" not in answer.json()["message"]

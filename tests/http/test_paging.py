"""Every list states its `limit` bounds in the document and keeps them; a filter by state names
the states it knows; a query parameter a route does not declare is refused (misspelt, it would
answer like an unfiltered list, or apply a file meant for a dry run); and every paged list says
where its next page starts (`next_after`, `next_before`, `next_cursor`: the parameter to pass
it as), null on the last page."""

from __future__ import annotations

import re
from typing import Any

import httpx

from minibase.app import MinibaseApp
from minibase.services import Services
from minibase.testing.plugin import Actor, MakeUser

ADMIN_LISTS = (
    "/api/admin/users",
    "/api/admin/jobs",
    "/api/admin/messages",
    "/api/admin/pay/orders",
    "/api/admin/push/wechat/{appid}/messages",
    "/api/admin/pay/events",
    "/api/admin/collections/{name}/files",
    "/api/admin/content/media-checks",
    "/api/admin/qrcodes",
)
# Called by WeChat, which may add parameters of its own: those are not a caller's mistakes.
PLATFORM_CALLS = frozenset({"/api/push/wechat/{appid}"})
NEXT_PAGE_PARAMETERS = ("after", "before", "cursor")


async def _every_list(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> tuple[dict[str, Any], list[tuple[str, dict[str, str]]]]:
    """The OpenAPI document, and each list with the headers of someone who may read it."""
    notes = {"name": "notes", "rules": {"preset": "public_read_owner_write"}}
    await client.post("/api/admin/collections", json=notes, headers=admin.headers)
    user = await make_user()
    document = (await client.get("/api/openapi.json")).json()
    lists = [(path, admin.headers) for path in ADMIN_LISTS]
    lists += [("/api/pay/orders", user.headers), ("/api/collections/notes/records", user.headers)]
    return document, lists


async def test_every_limit_is_documented_as_1_to_100_and_kept(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    document, lists = await _every_list(client, admin, make_user)
    for path, headers in lists:
        (limit,) = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == "limit"]
        assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 100), path
        url = path.replace("{appid}", "wx1").replace("{name}", "notes")
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


async def test_a_query_parameter_a_route_does_not_declare_is_refused_naming_the_known_ones(
    client: httpx.AsyncClient, app: MinibaseApp, admin: Actor, make_user: MakeUser
) -> None:
    user = await make_user()
    routes = [  # (a HEAD answer has no body to read the error from)
        e
        for e in app.state.endpoints
        if e.query and e.path not in PLATFORM_CALLS and e.method != "HEAD"
    ]
    assert {"/api/admin/jobs", "/api/pay/orders", "/api/admin/definitions"} <= {
        endpoint.path for endpoint in routes
    }
    for endpoint in routes:
        url = re.sub(r"{\w+}", "x", endpoint.path)
        headers = user.headers if endpoint.access == "user" else admin.headers
        answer = await client.request(endpoint.method, url, params={"limt": "5"}, headers=headers)
        where = (endpoint.method, endpoint.path)
        assert answer.status_code == 400, (where, answer.text)
        assert answer.json()["code"] == "request.invalid_query", where
        known = ", ".join(name for name, _, _ in endpoint.query)
        expected = f"unknown query parameters ['limt']; known: {known}"
        assert answer.json()["message"] == expected, where


async def test_every_paged_list_says_where_its_next_page_starts_as_its_document_does(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    document, lists = await _every_list(client, admin, make_user)
    paged = {
        path
        for path, operations in document["paths"].items()
        if any(p["name"] == "limit" for p in operations.get("get", {}).get("parameters", ()))
    }
    assert paged == {path for path, _ in lists} | {"/api/collections/{name}/records"}
    for path, headers in lists:
        operation = document["paths"][path]["get"]
        (key,) = [p["name"] for p in operation["parameters"] if p["name"] in NEXT_PAGE_PARAMETERS]
        page = operation["responses"]["200"]["content"]["application/json"]["schema"]
        assert f"next_{key}" in page["required"], path
        assert page["properties"][f"next_{key}"]["type"] == ["string", "null"], path
        answer = await client.get(
            path.replace("{appid}", "wx1").replace("{name}", "notes"), headers=headers
        )
        assert answer.json()[f"next_{key}"] is None, (path, answer.text)  # nothing more


async def test_jobs_are_listed_in_pages_that_end_without_an_empty_one(
    client: httpx.AsyncClient, admin: Actor, services: Services
) -> None:
    ids = [(await services.jobs.enqueue("mail", {"n": n})).id for n in range(5)]
    seen: list[str] = []
    params: dict[str, Any] = {"limit": "2", "name": "mail"}
    pages = 0
    while True:
        page = (await client.get("/api/admin/jobs", params=params, headers=admin.headers)).json()
        pages += 1
        seen += [job["id"] for job in page["items"]]
        assert page["counts"]["queued"] == 5
        if page["next_after"] is None:
            break
        assert page["next_after"] == page["items"][-1]["id"]
        params["after"] = page["next_after"]
    assert (seen, pages) == (sorted(ids, reverse=True), 3)  # newest first: 2 + 2 + 1

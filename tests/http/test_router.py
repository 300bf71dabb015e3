"""The dispatcher: a path the server serves with other methods answers 405 and says which."""

from __future__ import annotations

import httpx


async def test_a_wrong_method_answers_405_with_an_allow_header(client: httpx.AsyncClient) -> None:
    response = await client.request("TRACE", "/api/admin/apps")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    body = response.json()
    assert body["code"] == "request.method_not_allowed"
    assert body["details"] == {"allowed": ["GET", "POST"]}


async def test_a_templated_path_lists_every_method_it_routes(client: httpx.AsyncClient) -> None:
    response = await client.put("/api/admin/users/u1")
    assert response.status_code == 405
    assert response.headers["allow"] == "DELETE, GET, PATCH"


async def test_an_action_path_allows_only_its_own_methods(client: httpx.AsyncClient) -> None:
    """`records/bulk-create` also fits `records/{id}`, but it is the bulk action's path."""
    response = await client.request("OPTIONS", "/api/collections/notes/records/bulk-create")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"

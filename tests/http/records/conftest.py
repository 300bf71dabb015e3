"""Helpers for the records API tests: collections made through the admin API, short calls.

Every test that uses `client` runs twice, on SQLite and on a fresh PostgreSQL database.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from minibase.app import create_app
from minibase.services import Services
from minibase.testing.plugin import Actor

ANONYMOUS: dict[str, str] = {}


def records_url(collection: str, suffix: str = "") -> str:
    return f"/api/collections/{collection}/records{suffix}"


async def make_collection(
    client: httpx.AsyncClient,
    admin: Actor,
    name: str,
    fields: dict[str, Any] | None = None,
    *,
    rules: dict[str, Any] | None = None,
    **definition: Any,
) -> dict[str, Any]:
    """A collection created through the admin API (public read, owner write unless told)."""
    body = {
        "name": name,
        "fields": fields or {},
        "rules": rules or {"preset": "public_read_owner_write"},
        **definition,
    }
    response = await client.post("/api/admin/collections", headers=admin.headers, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], collection: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(records_url(collection), headers=headers, json=body)
    assert response.status_code == 201, response.text
    record: dict[str, Any] = response.json()
    return record


async def read(
    client: httpx.AsyncClient, headers: dict[str, str], collection: str, record_id: str
) -> dict[str, Any]:
    response = await client.get(records_url(collection, f"/{record_id}"), headers=headers)
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()
    return record


async def list_page(
    client: httpx.AsyncClient, headers: dict[str, str], collection: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(records_url(collection), headers=headers, params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def walk_pages(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    collection: str,
    between_pages: Callable[[int], Awaitable[None]] | None = None,
    **params: Any,
) -> list[dict[str, Any]]:
    """Every item of every page, following next_cursor to the end."""
    items: list[dict[str, Any]] = []
    cursor = None
    for page_number in range(1000):
        page = await list_page(
            client, headers, collection, **params, **({"cursor": cursor} if cursor else {})
        )
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        if between_pages is not None:
            await between_pages(page_number)
    raise AssertionError("pagination never ended")


async def all_records(client: httpx.AsyncClient, admin: Actor, collection: str) -> list[Any]:
    """What the collection holds, as the admin (who passes every rule) sees it."""
    return await walk_pages(client, admin.headers, collection, limit=100)


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """A JSON error with a stable code and a message, and never a Python traceback."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert isinstance(body["message"], str)
    assert body["message"]
    assert "Traceback" not in response.text
    return body


@pytest.fixture
async def client_with(services: Services) -> AsyncIterator[Callable[..., httpx.AsyncClient]]:
    """Clients of apps sharing the test's database but with some settings changed."""
    opened: list[httpx.AsyncClient] = []

    def build(**changes: Any) -> httpx.AsyncClient:
        settings = services.settings.replace(**changes)
        changed = dataclasses.replace(services, settings=settings)
        app = create_app(settings, services=changed)
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://minibase.test"
        )
        opened.append(http)
        return http

    yield build
    for http in opened:
        await http.aclose()

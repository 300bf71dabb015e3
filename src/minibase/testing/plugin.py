"""pytest fixtures (registered through the `pytest11` entry point)."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from minibase.app import MinibaseApp, create_app
from minibase.auth.admins import insert_admin
from minibase.auth.passwords import hash_password
from minibase.auth.users import insert_user
from minibase.clock import FrozenClock
from minibase.config import Settings
from minibase.services import Services, open_services
from minibase.testing import postgres

BACKENDS = ("sqlite", "postgres")


def _backends() -> list[str]:
    chosen = os.environ.get("MINIBASE_TEST_BACKENDS")
    return [b for b in chosen.split(",") if b] if chosen else list(BACKENDS)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: the test is about SQLite itself")


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[None]:
    postgres.prepare_template()
    yield
    postgres.drop_template()


@pytest.fixture(params=_backends())
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgres":
        request.getfixturevalue("_postgres_template")
    return name


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def settings(backend: str, tmp_path: Path) -> AsyncIterator[Settings]:
    base = Settings(
        data_dir=tmp_path / "data",
        master_key=base64.b64encode(b"k" * 32).decode(),
        auto_migrate=True,
    )
    if backend == "sqlite":
        yield base
        return
    name = await postgres.clone_database()
    try:
        yield base.replace(database_url=postgres.url_for(name), postgres_pool_size=4)
    finally:
        await postgres.drop_database(name)


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    opened = await open_services(settings)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def app(settings: Settings, services: Services) -> MinibaseApp:
    return create_app(settings, services=services)


@pytest.fixture
async def client(app: MinibaseApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://minibase.test") as http:
        yield http


@dataclass(frozen=True)
class Actor:
    """Someone calling the API: an id and the headers that carry their token."""

    id: str
    token: str
    refresh_token: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


ADMIN_EMAIL, ADMIN_PASSWORD = "admin@example.com", "correct horse battery"


@pytest.fixture(scope="session")
def _admin_password_hash() -> str:
    """argon2 is slow on purpose (~0.25 s); hash the test admin's password once a session."""
    return asyncio.run(hash_password(ADMIN_PASSWORD))


@pytest.fixture
async def admin(services: Services, _admin_password_hash: str) -> Actor:
    """An admin (ADMIN_EMAIL / ADMIN_PASSWORD) and a token for it."""
    found = await insert_admin(
        services.db, services.clock, services.ids, ADMIN_EMAIL, _admin_password_hash
    )
    token = services.signer.issue(found.caller(), services.settings.admin_token_ttl)
    return Actor(found.id, token)


MakeUser = Callable[..., Awaitable[Actor]]


@pytest.fixture
def make_user(services: Services) -> MakeUser:
    async def make(roles: tuple[str, ...] = (), **profile: Any) -> Actor:
        async with services.db.transaction() as conn:
            user = await insert_user(conn, services.clock, services.ids, roles, profile)
            pair = await services.sessions.issue(conn, user)
        return Actor(user.id, pair.access_token, pair.refresh_token)

    return make

"""pytest fixtures (registered through the `pytest11` entry point)."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import os
import shutil
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import httpx._transports.default as httpx_transports
import pytest

from minibase.app import MinibaseApp, create_app
from minibase.auth.admins import insert_admin, issue_admin_token
from minibase.auth.apps import check_app, save_app
from minibase.auth.passwords import hash_password
from minibase.auth.users import insert_user
from minibase.clock import FrozenClock, SystemClock
from minibase.config import Settings
from minibase.platforms.transport import tls_context
from minibase.private_files import make_private_dir
from minibase.services import Services, open_services
from minibase.store.migrations import migrate
from minibase.store.sqlite import SQLiteDatabase
from minibase.testing import postgres
from minibase.testing.keys import keypair
from minibase.testing.sandbox import SandboxClient, SandboxProcess

BACKENDS = ("sqlite", "postgres")


def chosen_backends() -> list[str]:
    """The engines data tests run on: both, or those MINIBASE_TEST_BACKENDS names."""
    chosen = os.environ.get("MINIBASE_TEST_BACKENDS")
    return [b for b in chosen.split(",") if b] if chosen else list(BACKENDS)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: the test is about SQLite itself")
    _share_one_trust_store()


def _share_one_trust_store() -> None:
    """Every httpx client a test makes without a TLS context of its own (`httpx.post`, a
    client per test) would load the trust store again, ~45 ms each: they share the one the
    server's clients use."""
    make = httpx.create_ssl_context

    def shared(
        verify: ssl.SSLContext | str | bool = True, cert: Any = None, trust_env: bool = True
    ) -> ssl.SSLContext:
        if verify is True and cert is None and trust_env:
            return tls_context()
        return make(verify=verify, cert=cert, trust_env=trust_env)

    httpx_transports.create_ssl_context = shared  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[postgres.SpareDatabases]:
    """The migrated template of this test session, and its clones for the tests."""
    postgres.prepare_template()
    spares = postgres.SpareDatabases()
    yield spares
    spares.close()
    postgres.drop_template()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database file migrated once per test session; each test starts from a copy (18
    migrations cost more than a test of the API does)."""
    path = tmp_path_factory.mktemp("sqlite_template") / "data.db"

    async def prepare() -> None:
        db = SQLiteDatabase(path)
        await db.open()
        try:
            await migrate(db, SystemClock())
        finally:
            await db.close()

    # on a thread: the first test to ask for it may be running in an event loop already
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, prepare()).result()
    return path


@pytest.fixture(scope="session")
def _sandbox_process() -> Iterator[SandboxProcess]:
    process = SandboxProcess()
    yield process
    process.stop()


@pytest.fixture
async def sandbox(_sandbox_process: SandboxProcess) -> AsyncIterator[SandboxClient]:
    """The platforms' sandbox (a real server on loopback), reset for this test."""
    client = SandboxClient(_sandbox_process.url)
    await client.reset()
    yield client
    await client.aclose()


@pytest.fixture(params=chosen_backends())
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgres":
        request.getfixturevalue("_postgres_template")
    return name


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def settings(
    request: pytest.FixtureRequest,
    backend: str,
    tmp_path: Path,
    _sandbox_process: SandboxProcess,
) -> AsyncIterator[Settings]:
    """Per-test settings: a fresh database, a functions folder of its own, and every platform
    pointed at the sandbox."""
    base = Settings(
        data_dir=tmp_path / "data",
        master_key=base64.b64encode(b"k" * 32).decode(),
        auto_migrate=True,
        sandbox_url=_sandbox_process.url,
        platform_timeout=2.0,
        functions_dir=tmp_path / "functions",  # never the working directory's
    )
    if backend == "sqlite":
        make_private_dir(base.data_dir)
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), base.sqlite_path)
        base.sqlite_path.chmod(0o600)
        yield base
        return
    spares: postgres.SpareDatabases = request.getfixturevalue("_postgres_template")
    name = await spares.take()
    try:
        yield base.replace(database_url=postgres.url_for(name), postgres_pool_size=4)
    finally:
        spares.give_back(name)


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
    token = issue_admin_token(
        services.signer, services.ids, found, services.settings.admin_token_ttl
    )
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


@dataclass(frozen=True)
class RegisteredApp:
    platform: str
    appid: str


RegisterApp = Callable[..., Awaitable[RegisteredApp]]


@pytest.fixture
def register_app(services: Services, sandbox: SandboxClient) -> RegisterApp:
    """Register an app with the server (sealed credentials) and with the sandbox (same keys).

    Alipay apps get a fresh RSA key pair; the sandbox answers with its platform key."""

    async def register(
        platform: str, appid: str, *, account: str | None = None, secret: str = "s3cret-for-tests"
    ) -> RegisteredApp:
        values: dict[str, Any] = {"platform": platform, "appid": appid, "account": account}
        if platform == "alipay":
            private_key, public_key = keypair(f"alipay app {appid}")
            answer = await sandbox.register_app(platform, appid, app_public_key=public_key)
            values.update(
                private_key=private_key,
                alipay_public_key=answer["alipay_public_key"],
                aes_key=answer["aes_key"],
            )
        else:
            await sandbox.register_app(platform, appid, secret=secret, account=account)
            values["secret"] = secret
        async with services.db.transaction() as conn:
            await save_app(
                conn,
                services.apps,
                services.clock,
                services.ids,
                check_app({k: v for k, v in values.items() if v is not None}),
            )
        await services.apps.load()
        return RegisteredApp(platform, appid)

    return register

"""A shop as a team deploys one: `minibase serve` in a folder whose minibase.toml names a WeChat
app and its WeChat Pay merchant (secrets from the environment), on a port fixed before it
starts (WeChat Pay keeps the notify URL of each order, so a restarted server must be reachable
at the same address). The database is read and locked from outside, as another process would.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from minibase.config import Settings
from minibase.pay import FULFIL_JOB
from minibase.platforms import rsa
from minibase.store.postgres import numbered
from minibase.testing import postgres
from minibase.testing.sandbox import SandboxClient, free_port
from tests.e2e.conftest import MINIBASE

APPID, MCHID = "wx-coffee", "1900000109"
TOML = """\
[[apps]]
platform = "wechat"
appid = "{appid}"
secret_env = "SHOP_APP_SECRET"

[[merchants]]
mchid = "{mchid}"
name = "Coffee Corner"
appids = ["{appid}"]
serial_no = "{serial}"
private_key_env = "SHOP_MERCHANT_KEY"
api_v3_key_env = "SHOP_API_V3_KEY"
platform_keys = {{ {platform_serial} = {platform_key} }}
"""


@dataclass
class ShopServer:
    """The shop's server process: started, killed and started again on one port and data."""

    settings: Settings  # the database, the master key and the sandbox (from the plugin)
    workdir: Path
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "server.log"

    async def set_up(self, sandbox: SandboxClient) -> None:
        """Keys made at the merchant platform (the sandbox), then written into the config."""
        secret, private_key, public_key = "shop-app-secret", *rsa.generate_keypair()
        serial, api_v3_key = secrets.token_hex(20).upper(), secrets.token_hex(16)
        await sandbox.register_app("wechat", APPID, secret=secret)
        platform = await sandbox.wechatpay_merchant(MCHID, public_key, serial, api_v3_key)
        config = TOML.format(
            appid=APPID,
            mchid=MCHID,
            serial=serial,
            platform_serial=json.dumps(platform["platform_serial"]),
            platform_key=json.dumps(platform["platform_certificate"]),
        )
        (self.workdir / "minibase.toml").write_text(config)
        clean = {k: v for k, v in os.environ.items() if not k.startswith("MINIBASE_")}
        self.env = {
            **clean,
            "MINIBASE_MASTER_KEY": str(self.settings.master_key),
            "MINIBASE_DATA_DIR": str(self.settings.data_dir),
            "MINIBASE_SANDBOX_URL": str(self.settings.sandbox_url),
            "MINIBASE_PUBLIC_URL": self.url,
            "MINIBASE_POSTGRES_POOL_SIZE": "4",
            "SHOP_APP_SECRET": secret,
            "SHOP_MERCHANT_KEY": private_key,
            "SHOP_API_V3_KEY": api_v3_key,
        }
        if self.settings.database_url:
            self.env["MINIBASE_DATABASE_URL"] = self.settings.database_url

    def start(self) -> None:
        assert self.process is None, "already running"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [MINIBASE, "serve", "--port", str(self.port)],
                cwd=self.workdir,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/api/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"the server did not start in 30 s:\n{self.log.read_text()[-3000:]}")

    def kill(self, signum: int = signal.SIGKILL) -> None:
        """Signal the server's whole process group (granian's workers too) and wait."""
        if self.process is None:
            return
        os.killpg(self.process.pid, signum)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None
        _until_not_listening(self.port)

    def stop(self) -> None:
        """As an operator (or a deploy) stops it: SIGTERM, running requests finish."""
        self.kill(signal.SIGTERM)

    def logged(self, text: str) -> int:
        return self.log.read_text(errors="replace").count(text)

    async def sign_in(self, sandbox: SandboxClient, person: str) -> dict[str, str]:
        """wx.login() in the sandbox, then the server's login: the buyer's headers."""
        code = (await sandbox.login_code("wechat", APPID, person))["code"]
        async with httpx.AsyncClient(base_url=self.url) as http:
            response = await http.post(
                "/api/auth/wechat/login", json={"appid": APPID, "code": code}
            )
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    async def order(self, headers: dict[str, str], key: str = "k1") -> dict[str, Any]:
        body = {"product": "coffee", "amount": 1200, "idempotency_key": key}
        async with httpx.AsyncClient(base_url=self.url) as http:
            response = await http.post("/api/pay/orders", json=body, headers=headers)
        assert response.status_code == 201, response.text
        order: dict[str, Any] = response.json()["order"]
        return order


def _until_not_listening(port: int) -> None:
    """granian's worker may outlive the main process by a moment; its socket goes with it."""
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
                return
            except OSError:
                assert time.monotonic() < deadline, f"port {port} is still taken"
        time.sleep(0.02)


@dataclass(frozen=True)
class OrderBook:
    """What the database holds of an order, read from outside the server."""

    settings: Settings

    async def value(self, sql: str, *args: object) -> Any:
        url = self.settings.database_url
        if url is None:
            with closing_sqlite(self.settings.sqlite_path) as sqlite:
                row = sqlite.execute(sql, args).fetchone()
                return None if row is None else row[0]
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetchval(numbered(sql), *args)
        finally:
            await conn.close()

    async def state(self, order_id: str) -> str:
        state: str = await self.value("SELECT state FROM pay_orders WHERE id = ?", order_id)
        return state

    async def fulfilments(self) -> int:
        """`pay.fulfil` jobs in the whole database (each test's shop sells one order)."""
        count: int = await self.value("SELECT COUNT(*) FROM jobs WHERE name = ?", FULFIL_JOB)
        return count

    async def events(self, order_id: str, kind: str) -> int:
        count: int = await self.value(
            "SELECT COUNT(*) FROM pay_events WHERE order_id = ? AND kind = ?", order_id, kind
        )
        return count

    async def paid_by(self, order_id: str) -> str:
        """The source (notification, query, reconcile) of the order's `paid` event."""
        detail = await self.value(
            "SELECT detail FROM pay_events WHERE order_id = ? AND kind = 'paid'", order_id
        )
        source: str = json.loads(detail)["source"]
        return source


@contextmanager
def closing_sqlite(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path, timeout=10, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def sqlite_write_lock(path: Path) -> Iterator[None]:
    """SQLite's one write lock, held by another process (a shell, a backup, a migration)."""
    with closing_sqlite(path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")


@asynccontextmanager
async def order_row_lock(url: str, order_id: str) -> AsyncIterator[None]:
    """The order's row, locked by another transaction: the ledger's FOR UPDATE waits on it."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            row = await conn.fetchrow(
                "SELECT id FROM pay_orders WHERE id = $1 FOR UPDATE", order_id
            )
            assert row is not None
            yield
    finally:
        await conn.close()


async def wait_for_lock_waiter(url: str) -> None:
    """Until a backend of this database waits for a lock on pay_orders (the server's FOR
    UPDATE). Polled outside any transaction: inside one, pg_stat_activity stays as it was
    first read."""
    conn = await asyncpg.connect(url)
    try:
        deadline = time.monotonic() + 10
        while not await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE '%FROM pay_orders%FOR UPDATE'"
        ):
            assert time.monotonic() < deadline, "the server never waited for the order's row"
            await asyncio.sleep(0.02)
    finally:
        await conn.close()


def _requests_at(port: int) -> int:
    """Connections the server on `port` has accepted and still holds open (/proc/net/tcp:
    hexadecimal ports, state 01 is ESTABLISHED)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as lines:
            next(lines)
            for line in lines:
                local, _, state = line.split()[1:4]
                count += state == "01" and int(local.rsplit(":", 1)[1], 16) == port
    return count


async def wait_for_request(port: int) -> None:
    """Until someone (the sandbox, delivering) holds a connection open to the server."""
    deadline = time.monotonic() + 10
    while not _requests_at(port):
        assert time.monotonic() < deadline, "no delivery reached the server"
        await asyncio.sleep(0.02)


@asynccontextmanager
async def postgres_refusing(database: str) -> AsyncIterator[None]:
    """The database down for the server: its connections cut, new ones refused (as during
    a failover). ALLOW_CONNECTIONS, unlike CONNECTION LIMIT, binds superusers too."""
    admin = await asyncpg.connect(postgres.admin_url())
    try:
        await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
        try:
            deadline = time.monotonic() + 10
            while await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
                database,
            ):
                assert time.monotonic() < deadline, "the server's connections stayed"
                await asyncio.sleep(0.05)
            yield
        finally:
            await admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
    finally:
        await admin.close()

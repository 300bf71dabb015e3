"""Fixtures of the backup tests: the `minibase` command in a scratch folder, moto's S3 server on
loopback, `minibase serve` processes, and a writer process that keeps adding records."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from tests.cli.cli_process import MINIBASE, Cli
from tests.files.s3_server import MotoS3

from minibase.testing.sandbox import free_port

KEY = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U="
PASSWORD = {"MINIBASE_ADMIN_PASSWORD": "a long password"}

# Writes batches of 25 records, each in one transaction, and prints a batch's number once its
# write returned: a printed batch is an acknowledged one.
WRITER = r"""
import asyncio, sys
from pathlib import Path
from minibase.auth.caller import Caller
from minibase.config import Settings
from minibase.data.definitions import create_collection
from minibase.data.records import create_records
from minibase.services import open_services

async def main(data_dir: str, key: str) -> None:
    services = await open_services(Settings(data_dir=Path(data_dir), master_key=key))
    admin = Caller(kind="admin", id="admin")
    if services.collections.find("ledger") is None:
        await create_collection(services, {"name": "ledger", "fields": {
            "batch": {"type": "integer"}, "line": {"type": "integer"}, "note": {"type": "string"}}})
    batch = 0
    while True:
        records = [{"batch": batch, "line": i, "note": "x" * 200} for i in range(25)]
        await create_records(services, admin, "ledger", records)
        print(batch, flush=True)
        batch += 1

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


class Writer:
    """The writer process and the batches it acknowledged so far."""

    def __init__(self, data_dir: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(data_dir), KEY],
            stdout=subprocess.PIPE,
            text=True,
        )
        self._acknowledged: list[int] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self._acknowledged.append(int(line))

    def acknowledged(self) -> set[int]:
        with self._lock:
            return set(self._acknowledged)

    def wait_for(self, count: int, timeout: float = 60) -> set[int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.acknowledged()
            if len(found) >= count:
                return found
            if self.process.poll() is not None:
                raise AssertionError("the writer stopped")
            time.sleep(0.02)
        raise AssertionError(f"the writer acknowledged fewer than {count} batches")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._reader.join(timeout=5)


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


@pytest.fixture
def writer(cli: Cli) -> Iterator[Callable[[], Writer]]:
    started: list[Writer] = []

    def start() -> Writer:
        started.append(Writer(cli.data_dir))
        return started[-1]

    yield start
    for each in started:
        each.stop()


class Server:
    def __init__(self, cli: Cli, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [str(MINIBASE), "serve", "--port", str(self.port), "--data-dir", str(cli.data_dir)],
                cwd=cli.workdir,
                env=cli.environment(),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its workers too are stopped as one group
            )

    def wait_until_up(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()}")
            try:
                httpx.get(f"{self.url}/api/health", timeout=1).raise_for_status()
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"server not up in {timeout}s: {self.log.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def server(cli: Cli) -> Iterator[Callable[[], Server]]:
    started: list[Server] = []

    def start() -> Server:
        started.append(Server(cli, cli.workdir / f"serve-{len(started)}.log"))
        started[-1].wait_until_up()
        return started[-1]

    yield start
    for each in started:
        each.stop()


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    server = MotoS3()
    yield server
    server.stop()


def s3_settings(moto: MotoS3) -> dict[str, str]:
    """The environment that points `minibase` at moto (files stay local: no s3_bucket)."""
    return {
        "MINIBASE_S3_ENDPOINT": moto.url,
        "MINIBASE_S3_ACCESS_KEY": moto.credentials.access_key,
        "MINIBASE_S3_SECRET_KEY": moto.credentials.secret_key,
        "MINIBASE_S3_REGION": moto.credentials.region,
    }

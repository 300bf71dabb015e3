"""`minibase serve` as a real server process: HTTP on the chosen port, options from flags or
MINIBASE_* variables, a clean exit on SIGTERM, and no start on an unmigrated PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import httpx
import pytest
from cli_process import MINIBASE, Cli
from tests.observability.conftest import parse, value

from minibase.cli import build_parser, main, settings_from

ADMIN = ("ops@example.com", "a long password")
SENT = 25  # requests sent to a server of two workers, whose scrapes must all count them


class Server:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self.log = log

    def wait_until_up(self, timeout: float = 30) -> httpx.Response:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"server exited: {self.log.read_text()}")
            try:
                return httpx.get(f"{self.url}/api/health", timeout=1)
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"server not up in {timeout}s: {self.log.read_text()}")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=20)


StartServer = Callable[..., Server]


@pytest.fixture
def start(cli: Cli) -> Iterator[StartServer]:
    started: list[Server] = []

    def start_server(*args: str, port: int, env: dict[str, str] | None = None) -> Server:
        log = cli.workdir / f"serve-{len(started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(MINIBASE), "serve", *args],
                cwd=cli.workdir,
                env=cli.environment(**(env or {})),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its workers too can be stopped as one group
            )
        started.append(Server(process, port, log))
        return started[-1]

    yield start_server
    for server in started:
        if server.process.poll() is None:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


def test_serve_answers_http_and_exits_cleanly_on_sigterm(
    cli: Cli, start: StartServer, free_port: int
) -> None:
    where = ("--data-dir", str(cli.data_dir))
    password = {"MINIBASE_ADMIN_PASSWORD": ADMIN[1]}
    cli.run("admin", "create", ADMIN[0], "--create", *where, env=password)  # before any serve
    server = start("--port", str(free_port), *where, port=free_port)
    health = server.wait_until_up()
    assert health.json()["status"] == "ok"
    assert health.json()["database"] == "sqlite"

    with httpx.Client(base_url=server.url, timeout=10) as http:
        login = http.post("/api/admin/login", json={"email": ADMIN[0], "password": ADMIN[1]})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        created = http.post("/api/admin/collections", json={"name": "notes"}, headers=headers)
        assert created.status_code == 201, created.text
        record = http.post("/api/collections/notes/records", json={"text": "hi"}, headers=headers)
        assert record.status_code == 201, record.text
        url = f"/api/collections/notes/records/{record.json()['_id']}"
        assert http.get(url, headers=headers).json()["text"] == "hi"

    assert server.stop() == 0
    assert "Traceback" not in server.log.read_text()


def children_of(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def test_a_worker_that_dies_is_started_again_while_the_other_serves_on(
    cli: Cli, start: StartServer, free_port: int
) -> None:
    where = ("--data-dir", str(cli.data_dir))
    server = start("--port", str(free_port), *where, port=free_port, env={"MINIBASE_WORKERS": "2"})
    server.wait_until_up()
    deadline = time.monotonic() + 10
    # both workers serving first: one killed before it started would never log "Started"
    while (
        len(workers := children_of(server.process.pid)) < 2
        or server.log.read_text().count("Started worker") < 2
    ):
        assert time.monotonic() < deadline, (workers, server.log.read_text())
        time.sleep(0.1)
    killed = min(workers)
    os.kill(killed, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    deadline = time.monotonic() + 30
    # two workers again, the new one started (granian's log says so once it serves)
    while (
        len(children_of(server.process.pid) - {killed}) < 2
        or server.log.read_text().count("Started worker") < 3
    ):
        assert server.process.poll() is None, server.log.read_text()
        assert time.monotonic() < deadline, server.log.read_text()
        time.sleep(0.2)
    for _ in range(10):  # whichever worker answers
        assert httpx.get(f"{server.url}/api/health", timeout=5).status_code == 200
    assert server.stop() == 0


SLOW = """
import asyncio
from minibase.functions import function

@function(auth="public", timeout=60)
async def slow(ctx, input):
    await asyncio.sleep(input["seconds"])
    return {"slept": input["seconds"]}
"""


def test_a_stopping_server_finishes_requests_in_flight_takes_no_new_ones_and_keeps_its_deadline(
    cli: Cli, start: StartServer, free_port: int
) -> None:
    (cli.workdir / "functions").mkdir()
    (cli.workdir / "functions" / "slow.py").write_text(SLOW)
    where = ("--data-dir", str(cli.data_dir))
    server = start(
        "--port", str(free_port), *where, port=free_port, env={"MINIBASE_SHUTDOWN_TIMEOUT": "3"}
    )
    server.wait_until_up()
    slow = f"{server.url}/api/functions/slow"
    with ThreadPoolExecutor(2) as pool:
        finishing = pool.submit(httpx.post, slow, json={"seconds": 1}, timeout=20)
        too_long = pool.submit(httpx.post, slow, json={"seconds": 30}, timeout=40)
        time.sleep(0.5)  # both are running
        stopped_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        with pytest.raises(httpx.ConnectError):  # no new connection is taken
            httpx.get(f"{server.url}/api/health", timeout=2)
        answer = finishing.result()
        assert (answer.status_code, answer.json()) == (200, {"result": {"slept": 1}})
        with pytest.raises(httpx.TransportError):  # cut at the deadline, not waited for
            too_long.result()
    server.process.wait(timeout=20)
    assert time.monotonic() - stopped_at < 3 + 5


@pytest.mark.parametrize(
    ("http_server", "workers"), [("granian", 2), ("uvicorn", 1), ("uvicorn", 2)]
)
def test_a_draining_server_says_not_ready_and_serves_on_until_the_drain_ends(
    cli: Cli, start: StartServer, free_port: int, http_server: str, workers: int
) -> None:
    env = {
        "MINIBASE_SHUTDOWN_DRAIN": "2",
        "MINIBASE_SERVER": http_server,
        "MINIBASE_WORKERS": str(workers),
    }
    server = start(
        "--port", str(free_port), "--data-dir", str(cli.data_dir), port=free_port, env=env
    )
    server.wait_until_up()
    assert httpx.get(f"{server.url}/api/ready").status_code == 200
    server.process.send_signal(signal.SIGTERM)  # to the main process only, as an orchestrator does
    stopped_at = time.monotonic()
    while httpx.get(f"{server.url}/api/ready").status_code == 200:  # uvicorn's supervisor
        assert time.monotonic() - stopped_at < 1, "still ready"  # looks twice a second
        time.sleep(0.05)
    for _ in range(2 * workers):  # the balancer's probe, whichever worker answers: go elsewhere
        ready = httpx.get(f"{server.url}/api/ready")
        assert (ready.status_code, ready.json()["code"]) == (503, "server.shutting_down")
    assert httpx.get(f"{server.url}/api/live").status_code == 200  # still answering
    assert httpx.get(f"{server.url}/api/health").status_code == 200  # and still serving
    # a lone uvicorn server ends by raising the signal it caught again, as if stopped by it
    lone_uvicorn = (http_server, workers) == ("uvicorn", 1)
    assert server.process.wait(timeout=20) == (-signal.SIGTERM if lone_uvicorn else 0)
    assert 2 <= time.monotonic() - stopped_at < 2 + 5
    assert "Traceback" not in server.log.read_text()


WHO_ANSWERS = """
import os
import time
from minibase.functions import function

@function(auth="public")
async def who(ctx, input):
    time.sleep(0.05)  # holds this worker's loop: the next connections go to the other one
    return {"pid": os.getpid()}
"""


def test_the_workers_of_one_server_share_its_rate_limits_without_redis(
    cli: Cli, start: StartServer, free_port: int
) -> None:
    (cli.workdir / "functions").mkdir()
    (cli.workdir / "functions" / "who.py").write_text(WHO_ANSWERS)
    limit, over = 20, 10
    env = {"MINIBASE_WORKERS": "2", "MINIBASE_RATE_LIMITS_PER_ADDRESS": f"functions={limit}/hour"}
    server = start(
        "--port", str(free_port), "--data-dir", str(cli.data_dir), port=free_port, env=env
    )
    server.wait_until_up()

    def call(_: int) -> httpx.Response:  # a connection of its own
        return httpx.post(f"{server.url}/api/functions/who", json={}, timeout=20)

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(call, range(limit + over)))
    passed = [answer.json()["result"]["pid"] for answer in answers if answer.status_code == 200]
    refused = [answer for answer in answers if answer.status_code == 429]
    assert (len(passed), len(refused)) == (limit, over)
    assert len(set(passed)) == 2, "one worker answered every request: the test proves nothing"
    assert {answer.json()["code"] for answer in refused} == {"request.rate_limited"}
    assert server.stop() == 0
    assert "Traceback" not in server.log.read_text()


def test_a_second_sigterm_ends_the_drain_at_once(
    cli: Cli, start: StartServer, free_port: int
) -> None:
    env = {"MINIBASE_SHUTDOWN_DRAIN": "60"}
    server = start(
        "--port", str(free_port), "--data-dir", str(cli.data_dir), port=free_port, env=env
    )
    server.wait_until_up()
    server.process.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert httpx.get(f"{server.url}/api/ready").status_code == 503
    stopped_at = time.monotonic()
    server.process.send_signal(signal.SIGTERM)  # an operator who will not wait a minute
    assert server.process.wait(timeout=20) == 0
    assert time.monotonic() - stopped_at < 5


def test_every_worker_of_a_server_reports_the_requests_that_all_its_workers_answered(
    cli: Cli, start: StartServer, free_port: int
) -> None:
    token = "scrape-token"
    env = {"MINIBASE_WORKERS": "2", "MINIBASE_METRICS_TOKEN": token}
    server = start(
        "--port", str(free_port), "--data-dir", str(cli.data_dir), port=free_port, env=env
    )
    server.wait_until_up()
    for _ in range(SENT):  # a connection each: the kernel hands them to either worker
        assert httpx.get(f"{server.url}/api/live").status_code == 200

    def live_requests() -> tuple[float | None, float | None, float | None]:
        """Requests to /api/live counted, their histogram's count, and which worker answered
        (its start time)."""
        answer = httpx.get(
            f"{server.url}/metrics", headers={"Authorization": "Bearer scrape-token"}
        )
        assert answer.status_code == 200, answer.text
        scraped = parse(answer.text)
        live = {"route": "/api/live", "method": "GET", "status": "2xx"}
        return (
            value(scraped, "minibase_http_requests_total", **live),
            value(scraped, "minibase_http_request_duration_seconds_count", **live),
            value(scraped, "minibase_start_time_seconds"),
        )

    deadline = time.monotonic() + 10
    while live_requests()[0] != SENT:  # the other worker's background publish: within a second
        assert time.monotonic() < deadline, f"never counted {SENT}: {live_requests()}"
        time.sleep(0.2)
    answered_by = set()
    for _ in range(60):  # until both workers have answered a scrape; every one says the same
        total, timed, worker = live_requests()
        assert (total, timed) == (SENT, SENT), f"worker {worker} says {total}, {timed}"
        answered_by.add(worker)
        if len(answered_by) == 2:
            break
    assert len(answered_by) == 2, "one worker answered every scrape"
    assert server.stop() == 0
    log = server.log.read_text()
    assert "Traceback" not in log
    assert "unreadable metrics file" not in log
    assert "could not publish" not in log


def test_serve_takes_its_port_and_data_dir_from_the_environment(
    cli: Cli, start: StartServer, free_port: int
) -> None:
    env = {
        "MINIBASE_HOST": "127.0.0.1",
        "MINIBASE_PORT": str(free_port),
        "MINIBASE_DATA_DIR": str(cli.workdir / "from-env"),
    }
    server = start(port=free_port, env=env)
    assert server.wait_until_up().json()["status"] == "ok"
    assert (cli.workdir / "from-env" / "data.db").is_file()
    assert not (cli.workdir / "minibase_data").exists()
    assert server.stop() == 0


@pytest.fixture
def bare_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.chdir(Path(__file__).parent)  # no minibase.toml here
    for name in list(os.environ):
        if name.startswith("MINIBASE_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize(
    ("variable", "value", "setting", "expected", "flag"),
    [
        ("MINIBASE_HOST", "0.0.0.0", "host", "0.0.0.0", ["--host", "127.0.0.2"]),
        ("MINIBASE_PORT", "9123", "port", 9123, ["--port", "9124"]),
        ("MINIBASE_DATA_DIR", "/srv/mb", "data_dir", Path("/srv/mb"), ["--data-dir", "/opt/mb"]),
        ("MINIBASE_DEV", "false", "dev", False, ["--dev"]),
        ("MINIBASE_WORKERS", "auto", "workers", None, ["--workers", "3"]),
    ],
)
def test_every_serve_option_has_an_environment_variable_that_its_flag_overrides(
    bare_environment: pytest.MonkeyPatch,
    variable: str,
    value: str,
    setting: str,
    expected: object,
    flag: list[str],
) -> None:
    bare_environment.setenv(variable, value)
    from_env = settings_from(build_parser().parse_args(["serve"]))
    assert getattr(from_env, setting) == expected
    from_flag = settings_from(build_parser().parse_args(["serve", *flag]))
    assert str(getattr(from_flag, setting)) == (flag[1] if len(flag) > 1 else "True")


def test_a_bad_environment_value_is_named_in_a_clear_error(
    bare_environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bare_environment.setenv("MINIBASE_PORT", "eighty")
    assert main(["serve"]) == 2
    assert "MINIBASE_PORT" in capsys.readouterr().err


def test_serve_refuses_an_unmigrated_postgres_and_says_to_run_migrate(
    cli: Cli, empty_postgres: str, free_port: int
) -> None:
    where = ("--data-dir", str(cli.data_dir), "--database-url", empty_postgres)
    refused = cli.run("serve", "--port", str(free_port), *where)
    assert refused.returncode != 0
    assert "run `minibase migrate`" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_serve_dev_migrates_postgres_at_start(
    cli: Cli, start: StartServer, empty_postgres: str, free_port: int
) -> None:
    where = ("--data-dir", str(cli.data_dir), "--database-url", empty_postgres)
    server = start("--dev", "--port", str(free_port), *where, port=free_port)
    assert server.wait_until_up().json()["database"] == "postgres"
    assert server.stop() == 0
    assert "0001_system_tables" in _applied_migrations(empty_postgres)


def test_serve_dev_says_where_the_sandbox_runs(
    cli: Cli, start: StartServer, free_port: int
) -> None:
    server = start("--dev", "--port", str(free_port), port=free_port)
    server.wait_until_up()
    sandbox = f"{server.url}/_sandbox"
    log = server.log.read_text()
    platforms = "sandbox of the platforms (fake WeChat, Alipay, Douyin, Baidu, QQ)"
    assert f"{platforms} in this server at {sandbox} (a platform SDK's base URL:" in log
    assert f"{sandbox}/<platform>, see docs/sandbox.md)" in log
    assert f"its control API (the phone's side: login codes, payments) at {sandbox}/control" in log
    assert httpx.get(f"{sandbox}/control/apps").status_code == 200  # where the log says
    assert httpx.get(f"{server.url}/").json()["sandbox"] == sandbox
    assert server.stop() == 0


def test_serve_help_says_what_dev_runs_and_where(cli: Cli) -> None:
    dev = " ".join(cli.run("serve", "--help").stdout.split())
    assert "--dev development mode: migrate at start, reload ./functions when a file changes" in dev
    assert "sandbox (fake WeChat, Alipay, Douyin, Baidu, QQ) in this server at" in dev
    assert "http://HOST:PORT/_sandbox, its control API at /_sandbox/control" in dev


def _applied_migrations(url: str) -> str:
    async def names() -> str:
        conn = await asyncpg.connect(url)
        try:
            rows = await conn.fetch("SELECT version, name FROM schema_migrations")
        finally:
            await conn.close()
        return ", ".join(f"{row[0]:04d}_{row[1]}" for row in rows)

    return asyncio.run(names())


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_broken_functions_folder_stops_the_start_naming_the_file(
    cli: Cli, free_port: int, command: str
) -> None:
    key = {"MINIBASE_MASTER_KEY": "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U="}
    cli.run("migrate", "--data-dir", str(cli.data_dir))  # a worker needs a database to work on
    (cli.workdir / "functions").mkdir()
    (cli.workdir / "functions" / "shop.py").write_text("def order(:\n")
    port = ("--port", str(free_port)) if command == "serve" else ()
    refused = cli.run(command, *port, "--data-dir", str(cli.data_dir), env=key)
    assert refused.returncode == 2
    assert "functions/shop.py: SyntaxError" in refused.stderr
    assert "Traceback" not in refused.stderr

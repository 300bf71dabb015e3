"""Payments per second: WeChat Pay orders and notifications, with the sandbox on loopback.

    .venv/bin/python bench/payments.py [--duration 10] [--connections 64] [--workers 1]
                                       [--only sqlite|postgres] [--only-orders] [--profile]

Each backend gets a fresh `minibase serve` (1 worker, job workers inside) and a fresh
standalone sandbox (`python -m minibase.sandbox`): the embedded default SQLite, then the local
PostgreSQL (MINIBASE_BENCH_POSTGRES_URL, default postgresql://postgres@127.0.0.1:5432/test; a
fresh database is created and dropped). A shop is set up as a team would: a WeChat app and its
WeChat Pay merchant through the admin API, keys registered at the sandbox, a no-op @paid hook,
and 1,000 people signed in through the sandbox.

1. Orders: wrk posts `POST /api/pay/orders` with a random one of the 1,000 user tokens and a
   new idempotency key each time, so every request is a new order and one signed JSAPI prepay
   call to the sandbox (counted by the sandbox, which gives the prepay calls per second).
2. Notifications: the orders are paid in the sandbox, whose signed, encrypted
   TRANSACTION.SUCCESS notifications go to a recorder in this process (MINIBASE_PUBLIC_URL
   points there); wrk then replays the recorded requests, headers and body as sent, to
   `POST /api/pay/wechatpay/notify/{mchid}`:
   - duplicates: one notification of a paid order, again and again (verified, decrypted, found
     recorded, acknowledged);
   - first deliveries: a different paid order's notification each request (verified, decrypted,
     the order paid and its fulfilment job enqueued in one transaction), each sent once; a 2 s
     warm-up of the same kind sizes the measured batch. The job workers fulfil them meanwhile;
     orders paid and jobs enqueued are checked against wrk's answers afterwards.
   The signatures carry the sandbox's timestamp and the server refuses any older than 300 s,
   so recording and replay of one batch must fit in that window (checked).

Server, sandbox, wrk (and PostgreSQL) share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

import asyncpg
import httpx
from loadgen import Load, LoadError, Measurement, run_wrk
from processes import ServerError, ServerProcess, clean_environment, free_port
from sampling import format_summary, start_recording, summarize

from minibase.config import Settings
from minibase.platforms import rsa
from minibase.services import open_services

RESULTS = Path(__file__).resolve().parent / "results"
APPID = "wxbench0001"
SECRET = "bench-secret-0123456789"
MCHID = "1900000109"
ADMIN = ("bench@example.com", "bench-admin-password")
KEY = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U="
PREPAY_PATH = "/v3/pay/transactions/jsapi"
SIGNATURE_WINDOW = 300  # seconds: crypto.MAX_CLOCK_SKEW, what the server accepts
WARMUP = 2  # seconds of unrecorded load before a measured run
SETTLE = 2.0  # seconds: requests still in flight when wrk stops finish meanwhile
SETUP_CONCURRENCY = 16  # setup calls in flight (logins, payments in the sandbox)
CATALOG_CHECK = 1.0  # seconds: SealedCatalog's default check_interval (apps, merchants)
FUNCTIONS = """
from minibase.functions import paid

@paid()
async def fulfil(ctx, order):
    return None
"""

# The wrk scripts, written beside the run's data (Load.script takes an absolute path too: it
# is joined to bench/wrk/, where common.lua is found through BENCH_WRK_DIR).
ORDER_LUA = """
-- POST /api/pay/orders: a random token of BENCH_IDS, a new idempotency key each request.
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local common = require("common")

local tokens = {}
for line in io.lines(os.getenv("BENCH_IDS")) do
   if line ~= "" then
      tokens[#tokens + 1] = "Bearer " .. line
   end
end
local run = os.getenv("BENCH_RUN")
local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("thread_no", threads)
   common.setup(thread)
end

done = common.done

function init(args)
   math.randomseed(bench_seed or 1)
   sent = 0
end

function request()
   sent = sent + 1
   local headers = {
      ["Authorization"] = tokens[math.random(#tokens)],
      ["Content-Type"] = "application/json",
   }
   local key = run .. "-" .. thread_no .. "-" .. sent
   return wrk.format("POST", nil, headers,
      '{"product":"coffee","amount":1200,"idempotency_key":"' .. key .. '"}')
end
"""
NOTIFY_LUA = """
-- POST recorded WeChat Pay notifications, one a line of BENCH_IDS: timestamp, nonce,
-- signature, serial and body, tab-separated. Thread k of n sends lines k, k+n, k+2n ... once
-- (then stops, sending its last line again); with BENCH_CYCLE=1 it goes round for ever.
package.path = os.getenv("BENCH_WRK_DIR") .. "/?.lua;" .. package.path
local common = require("common")

local items = {}
for line in io.lines(os.getenv("BENCH_IDS")) do
   local stamp, nonce, signature, serial, body =
      line:match("^([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t(.*)$")
   if body then
      items[#items + 1] = {stamp, nonce, signature, serial, body}
   end
end
local cycle = os.getenv("BENCH_CYCLE") == "1"
local threads = 0

function setup(thread)
   threads = threads + 1
   thread:set("first", threads)
   common.setup(thread)
end

done = common.done

function init(args)
   step = tonumber(os.getenv("BENCH_THREADS") or "2")
   next_item = first
end

function request()
   local n = next_item
   if n > #items then
      if cycle then
         n = (n - 1) % #items + 1
      else
         wrk.thread:stop()
         n = #items
      end
   end
   next_item = next_item + step
   local item = items[n]
   local headers = {
      ["Content-Type"] = "application/json",
      ["Wechatpay-Timestamp"] = item[1],
      ["Wechatpay-Nonce"] = item[2],
      ["Wechatpay-Signature"] = item[3],
      ["Wechatpay-Serial"] = item[4],
      ["Wechatpay-Signature-Type"] = "WECHATPAY2-SHA256-RSA2048",
   }
   return wrk.format("POST", nil, headers, item[5])
end
"""


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _report(label: str, measured: Measured, unit: str, extra: str = "") -> None:
    wrk = measured.wrk
    errors = f", {wrk.error_count} ERRORS {wrk.errors}" if wrk.error_count else ""
    cpu = ", ".join(f"{name} {share:.0%}" for name, share in measured.cpu.items())
    print(
        f"{label}: {wrk.rps:,.0f} {unit}/s, p50 {wrk.p50:.1f} ms, "
        f"p99 {wrk.p99:.1f} ms{errors}{extra} (CPU, of one core: {cpu})",
        flush=True,
    )
    if wrk.error_count:
        _say("  (!) errors above: the figure is not valid")


def _cpu_seconds(group: int) -> float:
    """User and system CPU time of every process in a process group so far."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == group:  # pgrp; utime and stime follow at 11 and 12
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Measured:
    wrk: Measurement
    cpu: dict[str, float]  # each server's CPU time over the run, as a share of one core

    def to_json(self) -> dict[str, Any]:
        return {**self.wrk.to_json(), "cpu": self.cpu}


def _measure(stack: Stack, load: Load, name: str, duration: int, connections: int) -> Measured:
    """One measured wrk run (under py-spy with --profile), with the servers' CPU time."""
    servers = {"server": stack.server.pid, "sandbox": stack.sandbox.pid}
    before = {label: _cpu_seconds(pid) for label, pid in servers.items()}
    with _sampled(stack, name, duration):
        measured = run_wrk(load, duration=duration, connections=connections)
    cpu = {
        label: round((_cpu_seconds(pid) - before[label]) / measured.seconds, 3)
        for label, pid in servers.items()
    }
    return Measured(measured, cpu)


@contextmanager
def _sampled(stack: Stack, name: str, duration: int) -> Iterator[None]:
    """With --profile: py-spy on the server's worker while the block runs, summed up on stderr
    (the raw stacks are kept in bench/results/)."""
    if not stack.profile:
        yield
        return
    RESULTS.mkdir(exist_ok=True)
    raw = RESULTS / f"profile-payments-{name}-{int(time.time())}.txt"
    sampler = start_recording(stack.server.pid, duration, raw)
    time.sleep(0.5)  # let py-spy attach before the load starts
    try:
        yield
        _, stderr = sampler.communicate(timeout=duration + 60)
    finally:
        if sampler.poll() is None:
            sampler.kill()
            sampler.wait()
    if sampler.returncode != 0 or not raw.exists():
        _say(f"  py-spy failed: {stderr.decode(errors='replace')[-500:] if stderr else ''}")
        return
    _say(f"  profile of {name} ({raw.name}):\n{format_summary(summarize(raw))}")


# -- the recorder: where the sandbox delivers notifications -------------------------------


class _Listener(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 drops the connections of a burst of deliveries


class Recorder:
    """An HTTP server in a thread that keeps every notification posted to it and answers 204
    (the sandbox's delivery then counts as acknowledged)."""

    def __init__(self) -> None:
        self._received: list[tuple[dict[str, str], str]] = []
        self._lock = threading.Lock()
        keep = self._keep

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                keep(dict(self.headers.items()), body.decode())
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = _Listener(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _keep(self, headers: dict[str, str], body: str) -> None:
        with self._lock:
            self._received.append((headers, body))

    def take(self) -> list[tuple[dict[str, str], str]]:
        """What was received since the last call."""
        with self._lock:
            taken, self._received = self._received, []
        return taken

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _notification_lines(recorded: list[tuple[dict[str, str], str]], path: Path) -> Path:
    lines = []
    for headers, body in recorded:
        lower = {name.lower(): value for name, value in headers.items()}
        fields = [lower[f"wechatpay-{name}"] for name in ("timestamp", "nonce", "signature")]
        fields += [lower["wechatpay-serial"], body]
        if any("\t" in field or "\n" in field for field in fields):
            raise SystemExit("a recorded notification has a tab or a newline in it")
        lines.append("\t".join(fields))
    path.write_text("\n".join(lines) + "\n")
    return path


# -- the servers and the shop --------------------------------------------------------------


@dataclass
class Stack:
    """One backend's sandbox and server, and what the benchmark needs of them."""

    workdir: Path
    sandbox: ServerProcess
    server: ServerProcess
    sandbox_url: str
    base_url: str
    settings: Settings  # the server's settings, for counting rows afterwards
    admin_headers: dict[str, str]
    tokens: Path  # one user access token a line
    paid_in_sandbox: set[str]  # out_trade_no of the orders paid there (some not replayed)
    profile: bool = False

    def stop(self) -> None:
        self.server.stop()
        self.sandbox.stop()


def _sandbox_environment(workdir: Path) -> dict[str, str]:
    """The sandbox builds an httpx client for every notification it delivers, and with it an
    SSL context that loads the CA bundle: ~25 ms with this machine's SSL_CERT_FILE (the system
    bundle), ~1 ms with certifi's, which caps recording at 40 notifications a second. It only
    delivers to http:// here, so it gets an empty CA directory (loaded lazily: ~0.3 ms)."""
    empty = workdir / "no-ca"
    empty.mkdir(exist_ok=True)
    env = clean_environment({"SSL_CERT_DIR": str(empty)})
    env.pop("SSL_CERT_FILE", None)
    return env


def _start(workdir: Path, public_url: str, database_url: str | None, workers: int) -> Stack:
    sandbox_port, server_port = free_port(), free_port()
    sandbox = ServerProcess(
        "sandbox",
        [sys.executable, "-m", "minibase.sandbox", "--port", str(sandbox_port)],
        workdir,
        _sandbox_environment(workdir),
    )
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    data_dir = workdir / "data"
    folder = workdir / "functions"
    folder.mkdir(exist_ok=True)
    (folder / "shop.py").write_text(textwrap.dedent(FUNCTIONS))
    extra = {
        "MINIBASE_SANDBOX_URL": sandbox_url,
        "MINIBASE_PUBLIC_URL": public_url,
        "MINIBASE_MASTER_KEY": KEY,
        "MINIBASE_ADMIN_PASSWORD": ADMIN[1],
        "MINIBASE_FUNCTIONS_DIR": str(folder),
        # no reconciliation queries to the sandbox while orders wait to be paid
        "MINIBASE_PAY_RECONCILE_AFTER": "86400",
    }
    if database_url is not None:
        extra["MINIBASE_DATABASE_URL"] = database_url
        extra["MINIBASE_AUTO_MIGRATE"] = "true"
    env = clean_environment(extra)
    server = None
    try:
        sandbox.wait_until_healthy(sandbox_url + "/control/apps")
        subprocess.run(
            [
                _bin("minibase"),
                "admin",
                "create",
                ADMIN[0],
                "--create",
                "--data-dir",
                str(data_dir),
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        command = [_bin("minibase"), "serve", "--port", str(server_port)]
        command += ["--data-dir", str(data_dir), "--workers", str(workers)]
        server = ServerProcess("minibase", command, workdir, env)
        base_url = f"http://127.0.0.1:{server_port}"
        server.wait_until_healthy(base_url + "/api/health")
    except BaseException:
        if server is not None:
            server.stop()
        sandbox.stop()
        raise
    settings = Settings(  # the server's database, for counting rows
        data_dir=data_dir, master_key=KEY, database_url=database_url, functions_dir=folder
    )
    return Stack(workdir, sandbox, server, sandbox_url, base_url, settings, {}, Path(), set())


async def _set_up_shop(stack: Stack, users: int) -> None:
    """The app and its merchant (keys made here, registered at the sandbox and the server),
    then `users` people signed in through the sandbox."""
    async with httpx.AsyncClient(timeout=60) as http:
        sandbox, base = stack.sandbox_url, stack.base_url
        app = {"platform": "wechat", "appid": APPID, "secret": SECRET}
        (await http.post(f"{sandbox}/control/apps", json=app)).raise_for_status()
        login = {"email": ADMIN[0], "password": ADMIN[1]}
        token = (await http.post(f"{base}/api/admin/login", json=login)).json()["token"]
        stack.admin_headers = {"Authorization": f"Bearer {token}"}
        admin = stack.admin_headers
        (await http.post(f"{base}/api/admin/apps", headers=admin, json=app)).raise_for_status()
        private_key, public_key = rsa.generate_keypair()
        serial, api_v3_key = secrets.token_hex(20).upper(), secrets.token_hex(16)
        platform = await http.post(
            f"{sandbox}/control/wechatpay/merchants",
            json={
                "mchid": MCHID,
                "merchant_public_key": public_key,
                "merchant_serial": serial,
                "api_v3_key": api_v3_key,
            },
        )
        platform.raise_for_status()
        keys = platform.json()
        merchant = await http.post(
            f"{base}/api/admin/pay/merchants",
            headers=admin,
            json={
                "mchid": MCHID,
                "name": "Bench Coffee",
                "appids": [APPID],
                "serial_no": serial,
                "private_key": private_key,
                "api_v3_key": api_v3_key,
                "platform_keys": {keys["platform_serial"]: keys["platform_certificate"]},
            },
        )
        if merchant.status_code != 201:
            raise ServerError(f"the merchant was refused: {merchant.text}")
        # Each worker process sees a new app or merchant within its catalog's check interval
        # (1 s): with --workers 2 a login right away may reach one that does not know it yet.
        await asyncio.sleep(CATALOG_CHECK + 0.5)
        codes = await http.post(
            f"{sandbox}/control/login-codes",
            json={
                "platform": "wechat",
                "appid": APPID,
                "persons": [f"buyer-{i}" for i in range(users)],
            },
        )
        codes.raise_for_status()
        slots = asyncio.Semaphore(SETUP_CONCURRENCY)

        async def sign_in(code: str) -> str:
            async with slots:
                answer = await http.post(
                    f"{base}/api/auth/wechat/login", json={"appid": APPID, "code": code}
                )
            if answer.status_code != 200:
                raise ServerError(f"a login failed: {answer.text}")
            access: str = answer.json()["access_token"]
            return access

        tokens = await asyncio.gather(*(sign_in(code) for code in codes.json()["codes"]))
    stack.tokens = stack.workdir / "tokens.txt"
    stack.tokens.write_text("\n".join(tokens) + "\n")


# -- orders -----------------------------------------------------------------------------------


def _prepay_calls(stack: Stack) -> int:
    calls = httpx.get(f"{stack.sandbox_url}/control/calls", timeout=30).json()
    return int(calls.get("wechatpay", {}).get(PREPAY_PATH, 0))


def _check_order(stack: Stack) -> None:
    """A benchmark of a broken endpoint is worthless: one order must come back prepaid."""
    token = stack.tokens.read_text().split("\n", 1)[0]
    before = _prepay_calls(stack)
    answer = httpx.post(
        f"{stack.base_url}/api/pay/orders",
        headers={"Authorization": f"Bearer {token}"},
        json={"product": "coffee", "amount": 1200, "idempotency_key": "check"},
        timeout=30,
    )
    body = answer.json()
    payment = body.get("payment") or {}
    if (
        answer.status_code != 201
        or not str(payment.get("package", "")).startswith("prepay_id=wx")
        or _prepay_calls(stack) != before + 1
    ):
        raise SystemExit(f"the order endpoint is broken: {answer.status_code} {body}")


def _order_load(stack: Stack, run: str) -> Load:
    return Load(
        url=f"{stack.base_url}/api/pay/orders",
        script=str(stack.workdir / "order.lua"),
        ids_file=stack.tokens,
        extra={"BENCH_RUN": run},
    )


def measure_orders(
    stack: Stack, duration: int, connections: int, label: str
) -> dict[str, dict[str, Any]]:
    (stack.workdir / "order.lua").write_text(ORDER_LUA)
    _check_order(stack)
    run_wrk(_order_load(stack, "warm"), duration=WARMUP, connections=connections)
    time.sleep(SETTLE)
    before = _prepay_calls(stack)
    measured = _measure(stack, _order_load(stack, "run"), "orders", duration, connections)
    time.sleep(SETTLE)
    prepays = _prepay_calls(stack) - before
    _report(
        f"orders, {label}",
        measured,
        "orders",
        f"; the sandbox saw {prepays:,} prepay calls ({prepays / measured.wrk.seconds:,.0f}/s)"
        f" for {measured.wrk.requests:,} answered orders",
    )
    return {"orders": {**measured.to_json(), "prepay_calls": prepays}}


async def _place_orders(stack: Stack, count: int) -> None:
    """`count` more unpaid orders through the endpoint (unmeasured), SETUP_CONCURRENCY at once."""
    tokens = stack.tokens.read_text().split()
    run = time.time_ns()
    slots = asyncio.Semaphore(SETUP_CONCURRENCY)
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=60) as http:

        async def place(i: int) -> None:
            body = {"product": "coffee", "amount": 1200, "idempotency_key": f"more-{run}-{i}"}
            headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
            async with slots:
                answer = await http.post("/api/pay/orders", json=body, headers=headers)
            if answer.status_code != 201:
                raise ServerError(f"an order failed: {answer.status_code} {answer.text}")

        await asyncio.gather(*(place(i) for i in range(count)))


def _created_orders(stack: Stack) -> list[str]:
    """The out_trade_no of every unpaid order, newest first."""
    found: list[str] = []
    with httpx.Client(base_url=stack.base_url, headers=stack.admin_headers, timeout=60) as http:
        before = None
        while True:
            params = {"state": "created", "limit": "100", **({"before": before} if before else {})}
            items = http.get("/api/admin/pay/orders", params=params).json()["items"]
            found.extend(item["out_trade_no"] for item in items)
            if len(items) < 100:
                return found
            before = items[-1]["id"]


# -- notifications ------------------------------------------------------------------------


async def _pay(stack: Stack, out_trade_nos: list[str]) -> None:
    """The people pay in the sandbox; each notification is delivered once (to the recorder)."""
    slots = asyncio.Semaphore(SETUP_CONCURRENCY)
    async with httpx.AsyncClient(base_url=stack.sandbox_url, timeout=60) as http:

        async def pay(out_trade_no: str) -> None:
            async with slots:
                answer = await http.post(
                    "/control/wechatpay/pay", json={"mchid": MCHID, "out_trade_no": out_trade_no}
                )
            statuses = [d["status"] for d in answer.json().get("deliveries", [])]
            if answer.status_code != 200 or statuses != [204]:
                raise ServerError(f"paying {out_trade_no} in the sandbox failed: {answer.text}")

        await asyncio.gather(*(pay(out_trade_no) for out_trade_no in out_trade_nos))


def _record(
    stack: Stack, recorder: Recorder, out_trade_nos: list[str], name: str
) -> tuple[Path, float]:
    """Pay the orders, keep their notifications; the file for wrk and when recording began."""
    started = time.time()
    recorder.take()
    asyncio.run(_pay(stack, out_trade_nos))
    recorded = recorder.take()
    if len(recorded) != len(out_trade_nos):
        raise SystemExit(f"{len(out_trade_nos)} payments, {len(recorded)} notifications")
    return _notification_lines(recorded, stack.workdir / name), started


def _notify_load(stack: Stack, lines: Path, *, cycle: bool) -> Load:
    return Load(
        url=f"{stack.base_url}/api/pay/wechatpay/notify/{MCHID}",
        script=str(stack.workdir / "notify.lua"),
        ids_file=lines,
        extra={"BENCH_CYCLE": "1" if cycle else "0"},
    )


async def _states(settings: Settings) -> tuple[dict[str, int], int]:
    """Orders by state, and fulfilment jobs, as the server's database holds them."""
    services = await open_services(settings)
    try:
        rows = await services.db.fetch_all("SELECT state, COUNT(*) FROM pay_orders GROUP BY state")
        jobs = await services.db.fetch_value("SELECT COUNT(*) FROM jobs WHERE name = 'pay.fulfil'")
    finally:
        await services.close()
    return {str(row[0]): int(row[1]) for row in rows}, int(jobs)


def _check_notification(stack: Stack, lines: Path) -> None:
    """The recorded notification, sent once by hand, must pay its order."""
    stamp, nonce, signature, serial, body = lines.read_text().split("\n", 1)[0].split("\t")
    headers = {
        "Content-Type": "application/json",
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature,
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
    }
    paid_before = asyncio.run(_states(stack.settings))[0].get("paid", 0)
    answer = httpx.post(
        f"{stack.base_url}/api/pay/wechatpay/notify/{MCHID}",
        headers=headers,
        content=body.encode(),
        timeout=30,
    )
    paid_after = asyncio.run(_states(stack.settings))[0].get("paid", 0)
    if answer.status_code != 204 or paid_after != paid_before + 1:
        raise SystemExit(f"the notification endpoint is broken: {answer.status_code} {answer.text}")


def _unpaid_batch(stack: Stack, count: int) -> list[str]:
    """`count` unpaid orders not yet paid in the sandbox, oldest first (more placed if need be)."""
    unpaid = [no for no in _created_orders(stack) if no not in stack.paid_in_sandbox]
    if len(unpaid) < count:
        started = time.time()
        asyncio.run(_place_orders(stack, count - len(unpaid)))
        _say(f"  {count - len(unpaid):,} more orders placed in {time.time() - started:.0f} s")
        unpaid = [no for no in _created_orders(stack) if no not in stack.paid_in_sandbox]
    batch = unpaid[-count:][::-1]  # the list is newest first
    stack.paid_in_sandbox.update(batch)
    return batch


def _first_deliveries(
    stack: Stack, recorder: Recorder, count: int, duration: int, connections: int, name: str
) -> tuple[Measured, dict[str, int]]:
    """`count` orders paid in the sandbox, their notifications recorded, then replayed (each
    once, oldest first) for `duration` seconds; wrk's figures and what changed in the database."""
    batch = _unpaid_batch(stack, count)
    lines, started = _record(stack, recorder, batch, f"distinct-{time.time_ns()}.txt")
    recording = time.time() - started
    _say(f"  {count:,} notifications recorded in {recording:.0f} s")
    if recording + duration > SIGNATURE_WINDOW - 30:
        raise SystemExit(
            f"recording took {recording:.0f} s: with the {duration} s run the first ones would be"
            f" replayed past the {SIGNATURE_WINDOW} s signature window; use a shorter --duration"
        )
    states_before, jobs_before = asyncio.run(_states(stack.settings))
    load = _notify_load(stack, lines, cycle=False)
    measured = _measure(stack, load, name, duration, connections)
    time.sleep(SETTLE)
    states_after, jobs_after = asyncio.run(_states(stack.settings))
    changed = {
        "recorded": count,
        "paid": states_after.get("paid", 0) - states_before.get("paid", 0),
        "jobs": jobs_after - jobs_before,
    }
    return measured, changed


def measure_notifications(
    stack: Stack, recorder: Recorder, duration: int, connections: int, label: str
) -> dict[str, dict[str, Any]]:
    (stack.workdir / "notify.lua").write_text(NOTIFY_LUA)
    one, _ = _record(stack, recorder, _unpaid_batch(stack, 1), "duplicate.txt")
    _check_notification(stack, one)
    run_wrk(_notify_load(stack, one, cycle=True), duration=WARMUP, connections=connections)
    load = _notify_load(stack, one, cycle=True)
    duplicates = _measure(stack, load, "duplicates", duration, connections)
    _report(
        f"notifications, {label}, duplicates (one paid order's, again and again)",
        duplicates,
        "notifications",
    )
    # First deliveries cost more than duplicates: a warm-up at the duplicate rate tells how
    # many distinct notifications the measured run needs (recording them takes a while).
    warm = math.ceil(duplicates.wrk.rps * WARMUP * 1.2) + connections
    probe, _ = _first_deliveries(stack, recorder, warm, WARMUP, connections, "warm-up")
    wanted = math.ceil(probe.wrk.rps * duration * 1.4) + connections
    first, changed = _first_deliveries(
        stack, recorder, wanted, duration, connections, "first-deliveries"
    )
    exhausted = first.wrk.requests >= wanted
    # Each answer is one order paid and one job; requests in flight at the end may add a few.
    answered = first.wrk.requests
    consistent = changed["paid"] == changed["jobs"] and (
        answered <= changed["paid"] <= answered + connections
    )
    _report(
        f"notifications, {label}, first deliveries (a new paid order each)",
        first,
        "notifications",
        f"; {changed['paid']:,} orders paid, {changed['jobs']:,} fulfilment jobs"
        + (" (!) ran out of recorded notifications: a lower bound" if exhausted else "")
        + ("" if consistent else " (!) NOT one paid order and one job per answer"),
    )
    return {
        "duplicates": duplicates.to_json(),
        "first_deliveries": {
            **first.to_json(),
            **changed,
            "exhausted": exhausted,
            "consistent": consistent,
        },
    }


# -- the run ------------------------------------------------------------------------------


def run_backend(
    label: str, database_url: str | None, args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    _say(f"{label}: starting the sandbox and minibase")
    recorder = Recorder()
    with tempfile.TemporaryDirectory(prefix="minibase-pay-bench-") as tmp:
        stack = _start(Path(tmp), recorder.url, database_url, args.workers)
        stack.profile = args.profile
        try:
            asyncio.run(_set_up_shop(stack, args.users))
            results = measure_orders(stack, args.duration, args.connections, label)
            if not args.only_orders:
                results |= measure_notifications(
                    stack, recorder, args.duration, args.connections, label
                )
            return results
        finally:
            stack.stop()
            recorder.close()


@contextmanager
def _fresh_postgres() -> Iterator[str]:
    admin_url = os.environ.get(
        "MINIBASE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
    )
    name = f"minibase_pay_bench_{os.getpid()}"

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        asyncio.run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--users", type=int, default=1000, help="people placing the orders")
    parser.add_argument("--workers", type=int, default=1, help="minibase worker processes")
    parser.add_argument("--only", choices=["sqlite", "postgres"], help="one backend only")
    parser.add_argument("--only-orders", action="store_true", help="skip the notifications")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy on the server during each measured run"
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _stop_on_sigterm)  # servers stopped, temporary data removed
    results: dict[str, Any] = {"settings": vars(args), "load_average_start": os.getloadavg()}
    try:
        if args.only != "postgres":
            results["sqlite"] = run_backend("SQLite", None, args)
        if args.only != "sqlite":
            with _fresh_postgres() as url:
                results["postgres"] = run_backend("PostgreSQL", url, args)
    except KeyboardInterrupt:
        _say("interrupted: servers stopped, temporary data removed")
        return 130
    except (ServerError, LoadError, subprocess.CalledProcessError) as exc:
        _say(f"bench: {exc}")
        return 2
    RESULTS.mkdir(exist_ok=True)
    name = RESULTS / f"payments-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    name.write_text(json.dumps(results, indent=1))
    print(f"results: {name}")
    runs = [run for backend in ("sqlite", "postgres") for run in results.get(backend, {}).values()]
    flagged = any(
        sum(run["errors"].values()) or run.get("exhausted") or run.get("consistent") is False
        for run in runs
    )
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())

"""The subscribe-message outbox's sending rate, in one process, against a standalone sandbox on
loopback.

    .venv/bin/python bench/messages.py [--messages 2000] [--concurrency 4]

For SQLite and PostgreSQL (MINIBASE_BENCH_POSTGRES_URL, default
postgresql://postgres@127.0.0.1:5432/test): that many WeChat users sign in and each accepts one
template message; then
- queue: `POST /api/messages/subscribe`'s work (`SubscribeMessages.queue`: the message row and
  its durable job in one commit), one after another;
- send: a job worker (`--concurrency` at once, the server's default 4) drains the outbox, each
  job one `cgi-bin/message/subscribe/send` call over HTTP with the shared access token and one
  commit for the outcome.
The sandbox's delivered list is checked: every message arrives once.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import tempfile
import time
from pathlib import Path

import httpx
from processes import scratch_postgres, standalone_sandbox

from minibase.auth.apps import check_app, save_app
from minibase.auth.login import login
from minibase.config import Settings
from minibase.jobs import JobWorker
from minibase.services import Services, open_services

APPID = "wx-bench-msg"
TEMPLATE = "tmpl-bench"
DATA = {"thing1": "your order has shipped", "time2": "2026-12-02 10:00"}


async def _users(services: Services, sandbox: httpx.AsyncClient, count: int) -> list[str]:
    async with services.db.transaction() as conn:
        values = check_app({"platform": "wechat", "appid": APPID, "secret": "bench-secret"})
        await save_app(conn, services.apps, services.clock, services.ids, values)
    await services.apps.load()
    persons = [f"person-{n}" for n in range(count)]
    codes = (
        await sandbox.post(
            "/control/login-codes", json={"platform": "wechat", "appid": APPID, "persons": persons}
        )
    ).json()["codes"]
    users = [(await login(services, "wechat", APPID, code)).user.id for code in codes]
    for person in persons:
        await sandbox.post(
            "/control/subscribe", json={"appid": APPID, "person": person, "template_id": TEMPLATE}
        )
    return users


async def _measure(services: Services, sandbox: httpx.AsyncClient, count: int, workers: int) -> str:
    users = await _users(services, sandbox, count)
    start = time.perf_counter()
    for user in users:
        await services.messages.queue({"user": user, "template_id": TEMPLATE, "data": DATA})
    queued = count / (time.perf_counter() - start)
    assert services.functions is not None
    worker = JobWorker(services.jobs, services.functions.handler_for, concurrency=workers)
    start = time.perf_counter()
    done = await worker.run_until_idle()
    sent = done / (time.perf_counter() - start)
    delivered = (await sandbox.get("/control/subscribe-messages")).json()["items"]
    in_state = await services.db.fetch_value(
        "SELECT COUNT(*) FROM subscribe_messages WHERE state = 'sent'"
    )
    if done != count or len(delivered) != count or in_state != count:
        raise SystemExit(f"{done} jobs, {len(delivered)} delivered, {in_state} sent: not {count}")
    return f"queue {queued:,.0f}/s, send {sent:,.0f}/s ({count} messages, all delivered once)"


async def _with_services(settings: Settings, sandbox: str, count: int, workers: int) -> str:
    services = await open_services(settings)
    try:
        async with httpx.AsyncClient(base_url=sandbox, timeout=60) as http:
            await http.post("/control/reset")
            await http.post(
                "/control/apps",
                json={"platform": "wechat", "appid": APPID, "secret": "bench-secret"},
            )
            return await _measure(services, http, count, workers)
    finally:
        await services.close()


async def _run(sandbox: str, count: int, workers: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = Settings(
            data_dir=Path(folder),
            master_key=base64.b64encode(os.urandom(32)).decode(),
            auto_migrate=True,
            sandbox_url=sandbox,
            functions_dir=Path(folder) / "functions",
        )
        print("SQLite:", await _with_services(base, sandbox, count, workers))
        async with scratch_postgres("mb_bench_messages") as url:
            pg = base.replace(database_url=url, data_dir=Path(folder) / "pg")
            print("PostgreSQL:", await _with_services(pg, sandbox, count, workers))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    arguments = parser.parse_args()
    with standalone_sandbox() as url:
        asyncio.run(_run(url, arguments.messages, arguments.concurrency))

"""Over real HTTP: a function folder deployed beside `minibase serve`; its after hooks run in
the server's own workers, or in a separate `minibase worker` when the server runs none, and
survive the server being killed in the middle of one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import (
    MASTER_KEY,
    RunningServer,
    admin_headers,
    start_server,
    stop_server,
)

FUNCTIONS = """
from minibase.functions import after, function

@function(auth="public")
async def hello(ctx, input):
    return f"hello {input['name']}"

@after("posts", "create")
async def stamp(ctx, event):
    await ctx.records_as_admin.update("posts", event.record["_id"], {"$set": {"stamped": True}})
"""


def _setup(server: RunningServer) -> str:
    headers = admin_headers(server)
    httpx.post(
        f"{server.url}/api/admin/collections",
        headers=headers,
        json={"name": "posts", "rules": {"preset": "public_read_admin_write"}},
    ).raise_for_status()
    post = httpx.post(
        f"{server.url}/api/collections/posts/records", headers=headers, json={"title": "x"}
    )
    return str(post.json()["_id"])


def _wait_stamped(server: RunningServer, post_id: str) -> bool:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        post = httpx.get(f"{server.url}/api/collections/posts/records/{post_id}").json()
        if post.get("stamped"):
            return True
        time.sleep(0.2)
    return False


def test_functions_and_after_hooks_run_inside_the_server(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "app.py").write_text(textwrap.dedent(FUNCTIONS))
    server = start_server(tmp_path)
    try:
        called = httpx.post(f"{server.url}/api/functions/hello", json={"name": "ann"})
        assert called.json() == {"result": "hello ann"}
        assert _wait_stamped(server, _setup(server))
    finally:
        stop_server(server)


def test_a_separate_worker_process_runs_the_jobs_when_the_server_runs_none(
    tmp_path: Path,
) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "app.py").write_text(textwrap.dedent(FUNCTIONS))
    server = start_server(tmp_path, env={"MINIBASE_RUN_JOBS": "false"})
    worker = None
    try:
        post_id = _setup(server)
        time.sleep(1)
        unstamped = httpx.get(f"{server.url}/api/collections/posts/records/{post_id}").json()
        assert "stamped" not in unstamped
        worker = subprocess.Popen(
            [str(Path(sys.executable).with_name("minibase")), "worker"],
            cwd=tmp_path,
            env={**os.environ, "MINIBASE_MASTER_KEY": MASTER_KEY},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        assert _wait_stamped(server, post_id)
    finally:
        if worker is not None:
            os.killpg(worker.pid, signal.SIGTERM)
            assert worker.wait(timeout=20) == 0
        stop_server(server)


DYING_HOOK = """
import asyncio, os, signal
from pathlib import Path
from minibase.functions import after

@after("posts", "create")
async def stamp(ctx, event):
    mark = Path(os.environ["TEST_MARKS"]) / event.record["_id"]
    if not mark.exists():
        await asyncio.sleep(0.3)  # the create's answer is on its way first (same process)
        mark.touch()
        os.kill(os.getpid(), signal.SIGKILL)  # the server dies with the hook half done
    await ctx.records_as_admin.update("posts", event.record["_id"], {"$set": {"stamped": True}})
"""


def test_a_server_killed_while_an_after_hook_runs_loses_neither_the_write_nor_the_hook(
    tmp_path: Path,
) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "app.py").write_text(DYING_HOOK)
    (tmp_path / "marks").mkdir()
    env = {"MINIBASE_JOB_LEASE": "1", "TEST_MARKS": str(tmp_path / "marks")}
    server = start_server(tmp_path, env=env)
    try:
        post_id = _setup(server)
        deadline = time.monotonic() + 20
        while not (tmp_path / "marks" / post_id).exists():  # the hook ran, and killed
            assert time.monotonic() < deadline, "the after hook never ran"
            time.sleep(0.05)
    finally:
        stop_server(server)
    server = start_server(tmp_path, env=env)  # as a supervisor would
    try:
        assert _wait_stamped(server, post_id), "the hook ran again once its lease ran out"
    finally:
        stop_server(server)

"""`minibase worker` processes on one database, killed with SIGKILL at the worst moments: before
a job's write, in the middle of its transaction, and right after its commit. Every job still
completes, and each one's effect lands exactly once (its handler completes it in the same
transaction as its write)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import orjson

from minibase.config import Settings
from minibase.data.definitions import create_collection
from minibase.jobs import JobState
from minibase.services import Services
from tests.e2e.conftest import MINIBASE

FUNCTIONS = """
    import os, signal
    from pathlib import Path
    from minibase.functions import job

    def first_time(name):
        try:
            (Path(os.environ["TEST_MARKS"]) / name).touch(exist_ok=False)
        except FileExistsError:
            return False
        return True

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    async def stamp(tx, ctx):
        await tx.records_as_admin.create("stamps", {"job": ctx.job.id, "attempt": ctx.job.attempts})
        await tx.complete_job()

    @job("count")
    async def count(ctx, payload):
        async with ctx.transaction() as tx:
            await stamp(tx, ctx)

    @job("die_before_writing")
    async def die_before_writing(ctx, payload):
        if first_time("before"):
            die()
        async with ctx.transaction() as tx:
            await stamp(tx, ctx)

    @job("die_inside_the_transaction")
    async def die_inside_the_transaction(ctx, payload):
        async with ctx.transaction() as tx:
            await stamp(tx, ctx)
            if first_time("inside"):
                die()

    @job("die_after_the_commit")
    async def die_after_the_commit(ctx, payload):
        async with ctx.transaction() as tx:
            await stamp(tx, ctx)
        if first_time("after"):
            die()
"""
COUNTED = 200


def _worker(settings: Settings, workdir: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "MINIBASE_DATA_DIR": str(settings.data_dir),
        "MINIBASE_MASTER_KEY": str(settings.master_key),
        "MINIBASE_FUNCTIONS_DIR": str(workdir / "functions"),
        "MINIBASE_JOB_LEASE": "2",
        "MINIBASE_JOB_CONCURRENCY": "4",
        "TEST_MARKS": str(workdir / "marks"),
    }
    if settings.database_url:
        env["MINIBASE_DATABASE_URL"] = settings.database_url
    return subprocess.Popen(
        [MINIBASE, "worker"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
        start_new_session=True,
    )


async def test_workers_killed_at_any_moment_lose_no_job_and_double_no_effect(
    services: Services, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "jobs.py").write_text(textwrap.dedent(FUNCTIONS))
    (tmp_path / "marks").mkdir()
    await create_collection(services, {"name": "stamps"})
    queue = services.jobs
    doomed = {
        name: await queue.enqueue(name)
        for name in ("die_before_writing", "die_inside_the_transaction", "die_after_the_commit")
    }
    async with services.db.transaction() as conn:
        for i in range(COUNTED):
            await queue.enqueue("count", {"i": i}, conn=conn)
    total = COUNTED + len(doomed)

    log = tmp_path / "workers.log"
    workers = [_worker(settings, tmp_path, log) for _ in range(2)]
    killed = 0
    try:
        deadline = time.monotonic() + 90
        while (counts := await queue.counts())["succeeded"] < total:
            assert time.monotonic() < deadline, f"jobs left: {counts}\n{log.read_text()[-3000:]}"
            for position, worker in enumerate(workers):
                if worker.poll() is not None:  # killed: a supervisor starts another
                    assert worker.returncode == -signal.SIGKILL, log.read_text()[-3000:]
                    killed += 1
                    workers[position] = _worker(settings, tmp_path, log)
            await asyncio.sleep(0.1)
    finally:
        await asyncio.sleep(0.5)  # the last job may kill its worker just after its commit
        running = [worker for worker in workers if worker.poll() is None]
        killed += len(workers) - len(running)
        for worker in running:
            os.killpg(worker.pid, signal.SIGTERM)
        exits = [worker.wait(timeout=30) for worker in running]
    assert exits == [0] * len(running), "SIGTERM lets a worker finish and exit cleanly"
    # Each mark is one kill; a kill may also take down another doomed job past its commit
    # (after its mark would have been made), so two or three happen.
    marks = sorted(path.name for path in (tmp_path / "marks").iterdir())
    assert killed == len(marks) >= 2, (killed, marks)

    assert (await queue.counts())["succeeded"] == total
    table = (await services.collections.get("stamps")).table
    rows = await services.db.fetch_all(f"SELECT data FROM {table}")
    by_job: dict[str, list[int]] = {}
    for (data,) in rows:
        stamp = orjson.loads(data)
        by_job.setdefault(stamp["job"], []).append(stamp["attempt"])
    assert len(by_job) == total, "every job left its effect"
    assert all(len(attempts) == 1 for attempts in by_job.values()), "and only once"

    # Several jobs share a worker (4 at once), so one kill may stop others too: attempts vary,
    # but each job's one effect is from the attempt that completed it.
    for name, at_least in (
        ("die_before_writing", 2),  # taken over once the killed worker's lease ran out
        ("die_inside_the_transaction", 2),  # attempt 1's write rolled back with the process
        ("die_after_the_commit", 1),  # committed with its completion: not run after that
    ):
        job = await queue.get(doomed[name].id)
        assert job is not None
        assert job.state is JobState.SUCCEEDED, name
        assert job.attempts >= at_least, name
        assert by_job[job.id] == [job.attempts], name

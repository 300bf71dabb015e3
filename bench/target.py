"""What the benchmark targets share: a server process, an HTTP client, admin API calls, the
users the scenarios act as."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from processes import ServerError, ServerProcess, free_port


@dataclass(frozen=True)
class User:
    """A user of one server: its id there and the whole Authorization header value to act as it."""

    id: str
    auth: str


class ServerTarget:
    name = ""
    label = ""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.server: ServerProcess | None = None
        self.client = httpx.Client(base_url=self.base_url, timeout=60.0)
        self.users: list[User] = []  # in the dataset's order: users[i] is owner index i
        self.ids: dict[str, list[str]] = {}
        self._admin_auth = ""

    @property
    def user_id(self) -> str:
        """The first user's id (the only one of the small dataset)."""
        return self.users[0].id

    @property
    def user_auth(self) -> str:
        return self.users[0].auth

    def stop(self) -> None:
        self.client.close()
        if self.server is not None:
            self.server.stop()

    @property
    def pid(self) -> int | None:
        return self.server.pid if self.server else None

    def _call(self, method: str, path: str, body: Any = None, auth: str | None = None) -> Any:
        """An API call, as the admin unless `auth` is given; any failure stops the run."""
        headers = {"Authorization": auth if auth is not None else self._admin_auth}
        response = self.client.request(method, path, json=body, headers=headers)
        if response.status_code >= 300:
            raise ServerError(
                f"{self.label} {method} {path}: {response.status_code} {response.text}"
            )
        return response.json() if response.content else None

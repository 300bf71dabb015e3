"""What the two benchmark targets share: a server process, an HTTP client, admin API calls."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from processes import ServerError, ServerProcess, free_port


class ServerTarget:
    name = ""
    label = ""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.server: ServerProcess | None = None
        self.client = httpx.Client(base_url=self.base_url, timeout=60.0)
        self.user_id = ""
        self.user_auth = ""
        self.ids: dict[str, list[str]] = {}
        self._admin_auth = ""

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

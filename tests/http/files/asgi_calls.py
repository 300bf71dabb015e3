"""Calling the app as an ASGI server would, message by message, for what httpx's ASGITransport
hides (the body of a HEAD answer) or cannot do (a client that goes away half way)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from minibase.app import MinibaseApp


async def call_asgi(
    app: MinibaseApp,
    method: str,
    url: str,
    headers: dict[str, str],
    incoming: Sequence[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """Every message the app sends for one request. `incoming` is what the client sends (the
    last message repeats: end it with an `http.disconnect` for a client that leaves); by
    default an empty body."""
    parts = httpx.URL(url)
    queue = list(incoming) or [{"type": "http.request", "body": b"", "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": parts.path,
        "raw_path": parts.raw_path.split(b"?")[0],
        "query_string": parts.query,
        "root_path": "",
        "headers": [(b"host", b"minibase.test")]
        + [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("minibase.test", 80),
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    return sent

"""The whole path on a real server (`minibase serve`, granian, SQLite) with
`MINIBASE_LOG_FORMAT=json`: a function's log line carries the request's id, the answer echoes
it, `/metrics` counts the call under its route template over loopback HTTP, and `/api/ready`
says ready."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import start_server, stop_server
from tests.observability.conftest import parse, value

FUNCTION = """
from minibase.functions import function


@function(auth="public")
async def hello(ctx, input):
    ctx.log.warning("hello from a function")
    return {"ok": True}
"""


def test_a_served_request_is_logged_as_json_with_its_id_and_counted_by_route(
    tmp_path: Path,
) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "hello.py").write_text(FUNCTION)
    server = start_server(tmp_path, env={"MINIBASE_LOG_FORMAT": "json"})
    try:
        called = httpx.post(
            f"{server.url}/api/functions/hello", headers={"X-Request-Id": "e2e-trace-0001"}
        )
        assert called.status_code == 200, called.text
        assert called.headers["x-request-id"] == "e2e-trace-0001"
        assert httpx.get(f"{server.url}/api/ready").json()["status"] == "ready"
        # whichever worker answers the scrape: the others' counts land within a second
        deadline = time.monotonic() + 5
        while (counted := requests_of(server.url)) is None and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop_server(server)
    assert server.process.stderr is not None
    errors = server.process.stderr.read().decode()

    assert counted == 1
    lines = [json.loads(line) for line in errors.splitlines() if line.startswith("{")]
    said = [line for line in lines if line["message"] == "hello from a function"]
    assert len(said) == 1, errors
    assert (said[0]["request_id"], said[0]["level"]) == ("e2e-trace-0001", "warning")


def requests_of(url: str) -> float | None:
    scraped = parse(httpx.get(f"{url}/metrics").text)
    route = {"route": "/api/functions/{name}", "method": "POST", "status": "2xx"}
    counted: float | None = value(scraped, "minibase_http_requests_total", **route)
    return counted

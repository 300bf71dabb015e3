"""docs/functions.md's example works as written: its functions file deployed beside
`minibase serve`, and its curl walk run against it."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.e2e.conftest import doc_block, json_values, run_walk, start_server, stop_server


def test_the_shop_example_places_and_confirms_an_order(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "shop.py").write_text(doc_block("functions.md", "python"))
    server = start_server(tmp_path)
    try:
        script = doc_block("functions.md", "sh", after="A walk through it with curl")
        result = run_walk(script + 'echo "{\\"admin\\": \\"$ADMIN\\"}"\n', server.port, tmp_path)
        assert result.returncode == 0, result.stderr
        placed, jobs, token = json_values(result.stdout)[-3:]
        assert (placed["sku"], placed["quantity"], placed["total"]) == ("A1", 2, 2400)
        assert placed["status"] == "confirmed"
        assert [(j["name"], j["state"], j["attempts"]) for j in jobs["items"]] == [
            ("confirm_order", "succeeded", 1)
        ]
        admin = {"Authorization": f"Bearer {token['admin']}"}
        deadline = time.monotonic() + 10
        while True:  # the after hook of the confirming update runs as a job of its own
            events = httpx.get(
                f"{server.url}/api/collections/order_events/records", headers=admin
            ).json()["items"]
            if events or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert [(e["order"], e["status"]) for e in events] == [(placed["_id"], "confirmed")]
    finally:
        stop_server(server)

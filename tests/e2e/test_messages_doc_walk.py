"""docs/messages.md works as written against `minibase serve --dev`: a person accepts a
template in the sandbox, the mini program reports it, and the message an admin queues is sent."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import doc_block, run_walk, start_server, stop_server


def test_the_subscribe_message_walk_sends_the_message(tmp_path: Path) -> None:
    script = doc_block("messages.md", "sh", after="## Subscribe messages")
    server = start_server(tmp_path, "--dev")
    try:
        result = run_walk(script, server.port, tmp_path)
    finally:
        stop_server(server)
    assert result.returncode == 0, result.stderr
    printed = [
        line
        for line in result.stdout.splitlines()
        if line.strip() and not line.startswith("admin created")
    ]
    expected = [line[2:] for line in script.splitlines() if line.startswith(("# {", "# ["))]
    assert printed == expected, result.stdout

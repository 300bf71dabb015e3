"""docs/push.md works as written: its functions file (a replying handler and an event handler)
beside `minibase serve --dev`, and its curl walk: the URL check, an encrypted reply, WeChat's
retries made one event and one job, and a forged push refused."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import doc_block, run_walk, start_server, stop_server


def test_the_push_walk_verifies_replies_handles_and_refuses(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "support.py").write_text(doc_block("push.md", "python"))
    server = start_server(tmp_path, "--dev")
    try:
        script = doc_block("push.md", "sh", after="## A whole push with curl")
        result = run_walk(script, server.port, tmp_path)
    finally:
        stop_server(server)
    assert result.returncode == 0, result.stderr
    printed = [
        line
        for line in result.stdout.splitlines()
        if line.strip() and not line.startswith("admin created")
    ]
    expected = [
        line[2:]
        for line in script.splitlines()
        if line.startswith(("# {", "# [")) or line == "# true"
    ]
    assert printed == expected, result.stdout

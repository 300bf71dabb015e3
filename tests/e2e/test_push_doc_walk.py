"""docs/push.md works as written: its functions file (a replying handler and an event handler)
beside `minibase serve --dev`, and its curl walk: the URL check, an encrypted reply, WeChat's
retries made one event and one job, and a forged push refused."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import run_walk, start_server, stop_server

DOC = Path(__file__).resolve().parents[2] / "docs" / "push.md"


def _block(language: str, after: str = "") -> str:
    text = DOC.read_text().split(after, 1)[1] if after else DOC.read_text()
    match = re.search(rf"```{language}\n(.*?)```", text, re.S)
    assert match, f"docs/push.md lost its {language} example"
    return match.group(1)


def test_the_push_walk_verifies_replies_handles_and_refuses(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "support.py").write_text(_block("python"))
    server = start_server(tmp_path, "--dev")
    try:
        script = _block("sh", after="## A whole push with curl")
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

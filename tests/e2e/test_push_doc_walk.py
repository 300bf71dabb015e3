"""docs/push.md works as written: its functions file (a replying handler and an event handler)
beside `minibase serve --dev`, and its curl walk: the URL check, an encrypted reply, WeChat's
retries made one event and one job, and a forged push refused; also right after the login
walk, on the app it registered."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import doc_block, run_walk, start_server, stop_server


def _printed(script: str) -> list[str]:
    """What the doc says the commands print: its `# {...`, `# [...` and `# true` lines."""
    return [
        line[2:]
        for line in script.splitlines()
        if line.startswith(("# {", "# [")) or line == "# true"
    ]


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
    assert printed == _printed(script), result.stdout


def test_the_push_walk_follows_the_login_walk_on_one_server(tmp_path: Path) -> None:
    """A reader who registered wxdemo in login.md runs the push walk next (without making
    the admin again): the app gets its push settings all the same."""
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "support.py").write_text(doc_block("push.md", "python"))
    login = doc_block("login.md", "sh", after="A walk through the whole login with curl")
    push = doc_block("push.md", "sh", after="## A whole push with curl")
    push = "\n".join(line for line in push.splitlines() if "minibase admin create" not in line)
    server = start_server(tmp_path, "--dev")
    try:
        result = run_walk(login + "echo\n" + push + "\n", server.port, tmp_path)
    finally:
        stop_server(server)
    assert result.returncode == 0, result.stderr
    expected = _printed(push)
    assert result.stdout.splitlines()[-len(expected) :] == expected, result.stdout

"""docs/push.md works as written: its functions file (a replying handler and an event handler)
beside `minibase serve --dev`, and its curl walk: the URL check, an encrypted reply, WeChat's
retries made one event and one job, and a forged push refused; also right after the login
walk, on the app it registered."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import doc_block, shown_output, walk_dev_server


def test_the_push_walk_verifies_replies_handles_and_refuses(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "support.py").write_text(doc_block("push.md", "python"))
    script = doc_block("push.md", "sh", after="## A whole push with curl")
    assert walk_dev_server(script, tmp_path) == shown_output(script)


def test_the_push_walk_follows_the_login_walk_on_one_server(tmp_path: Path) -> None:
    """A reader who registered wxdemo in login.md runs the push walk next (without making
    the admin again): the app gets its push settings all the same."""
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "support.py").write_text(doc_block("push.md", "python"))
    login = doc_block("login.md", "sh", after="A walk through the whole login with curl")
    push = doc_block("push.md", "sh", after="## A whole push with curl")
    push = "\n".join(line for line in push.splitlines() if "minibase admin create" not in line)
    printed = walk_dev_server(login + "echo\n" + push + "\n", tmp_path)
    expected = shown_output(push)
    assert printed[-len(expected) :] == expected

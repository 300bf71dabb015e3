"""docs/login.md's walk works as written against `minibase serve --dev` (sandbox in-process)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.e2e.conftest import doc_block, json_values, run_walk, start_server, stop_server

DOC = Path(__file__).resolve().parents[2] / "docs" / "login.md"


def _walk() -> str:
    section = DOC.read_text().split("A walk through the whole login with curl", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "docs/login.md lost its curl walk"
    return match.group(1)


def test_the_login_walk_signs_in_and_binds_a_phone(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--dev")
    try:
        result = run_walk(_walk() + '\necho "$SESSION"\n', server.port, tmp_path)
    finally:
        stop_server(server)
    assert result.returncode == 0, result.stderr
    *_, phone, session = json_values(result.stdout)
    assert session["is_new_user"] is True
    assert phone["id"] == session["user"]["id"]
    assert phone["phone"] == "138****8000"


def test_the_douyin_guest_walk_signs_a_guest_in_then_the_person_keeps_the_account(
    tmp_path: Path,
) -> None:
    guests = doc_block("login.md", "sh", after="## Douyin guests")
    server = start_server(tmp_path, "--dev")
    try:
        result = run_walk(_walk() + guests, server.port, tmp_path)
    finally:
        stop_server(server)
    assert result.returncode == 0, result.stderr
    expected = [json.loads(line[2:]) for line in guests.splitlines() if line.startswith("# {")]
    assert len(expected) == 2
    assert json_values(result.stdout)[-len(expected) :] == expected

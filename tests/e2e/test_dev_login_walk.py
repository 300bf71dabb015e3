"""docs/login.md's walk works as written against `minibase serve --dev` (sandbox in-process)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import json_values, run_walk, start_server, stop_server

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

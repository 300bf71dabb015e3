"""docs/login.md's walk works as written against `minibase serve --dev` (sandbox in-process)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import MASTER_KEY, json_values, start_server, stop_server

DOC = Path(__file__).resolve().parents[2] / "docs" / "login.md"


def _walk() -> str:
    section = DOC.read_text().split("A walk through the whole login with curl", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "docs/login.md lost its curl walk"
    return match.group(1)


def test_the_login_walk_signs_in_and_binds_a_phone(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--dev")
    try:
        script = _walk().replace("localhost:8080", f"127.0.0.1:{server.port}")
        script = script.replace(
            ".venv/bin/minibase", str(Path(sys.executable).with_name("minibase"))
        )
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script + '\necho "$SESSION"\n'],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "MINIBASE_MASTER_KEY": MASTER_KEY},
        )
    finally:
        stop_server(server)
    assert result.returncode == 0, result.stderr
    *_, phone, session = json_values(result.stdout)
    assert session["is_new_user"] is True
    assert phone["id"] == session["user"]["id"]
    assert phone["phone"] == "138****8000"

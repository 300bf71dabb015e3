"""The README's curl walk works as written, against a real server on the embedded default."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import RunningServer, json_values, run_walk

README = Path(__file__).resolve().parents[2] / "README.md"


def _walk_script() -> str:
    text = README.read_text()
    section = text.split("## A first walk with curl", 1)[1]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match, "the README lost its curl walk"
    return match.group(1)


def test_the_readme_walk_creates_and_lists_a_record(server: RunningServer) -> None:
    result = run_walk(_walk_script(), server.port, server.cwd)
    assert result.returncode == 0, result.stderr
    outputs = json_values(result.stdout)
    created, page = outputs[-2], outputs[-1]
    assert created["title"] == "hello"
    assert created["_version"] == 1
    assert [item["_id"] for item in page["items"]] == [created["_id"]]

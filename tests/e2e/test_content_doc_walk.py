"""docs/content.md works as written against `minibase serve --dev`: its curl walk (a text
check, a content-checked collection refusing risky text and taking clean text, a pending media
check) and its cloud function."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import doc_block, run_walk, start_server, stop_server


def _printed(script: str, tmp_path: Path) -> list[dict[str, object]]:
    """What the walk printed, one JSON object a line (after it ran without failing)."""
    server = start_server(tmp_path, "--dev")
    try:
        result = run_walk(script, server.port, tmp_path)
    finally:
        stop_server(server)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def _expected(script: str) -> list[dict[str, object]]:
    """The answers the doc shows under its commands (`# {...}`)."""
    return [json.loads(line[2:]) for line in script.splitlines() if line.startswith("# {")]


def test_the_content_walk_and_its_function(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "content.py").write_text(
        doc_block("content.md", "python", "## In cloud functions")
    )
    script = doc_block("content.md", "sh", after="## A walk with curl")
    call = (
        '\ncurl -s localhost:8080/api/functions/post_comment -H "Authorization: Bearer $TOKEN"'
        ' --json \'{"text": "sandbox-risky", "picture": "https://cdn.example.com/a.png"}\''
        " | jq -c .result\n"
    )
    printed = _printed(script + call, tmp_path)
    expected = _expected(script)
    assert printed[: len(expected)] == expected
    assert printed[len(expected) :] == [{"posted": False, "label": "other"}]


def test_the_douyin_walk_checks_a_douyin_users_text_and_image(tmp_path: Path) -> None:
    walk = doc_block("content.md", "sh", after="## A walk with curl")
    douyin = doc_block("content.md", "sh", after="## Platforms")
    expected = _expected(douyin)
    assert len(expected) == 2
    assert _printed(walk + douyin, tmp_path)[-len(expected) :] == expected

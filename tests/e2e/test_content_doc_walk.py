"""docs/content.md works as written against `minibase serve --dev`: its curl walk (a text
check, a content-checked collection refusing risky text and taking clean text, a pending media
check) and its cloud function."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.conftest import doc_block, run_walk, start_server, stop_server


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
    server = start_server(tmp_path, "--dev")
    try:
        result = run_walk(script + call, server.port, tmp_path)
    finally:
        stop_server(server)
    assert result.returncode == 0, result.stderr
    printed = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    expected = [json.loads(line[2:]) for line in script.splitlines() if line.startswith("# {")]
    assert printed[: len(expected)] == expected
    assert printed[len(expected) :] == [{"posted": False, "label": "other"}]


def test_the_douyin_walk_checks_a_douyin_users_text_and_image(tmp_path: Path) -> None:
    walk = doc_block("content.md", "sh", after="## A walk with curl")
    douyin = doc_block("content.md", "sh", after="## Platforms")
    server = start_server(tmp_path, "--dev")
    try:
        result = run_walk(walk + douyin, server.port, tmp_path)
    finally:
        stop_server(server)
    assert result.returncode == 0, result.stderr
    printed = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    expected = [json.loads(line[2:]) for line in douyin.splitlines() if line.startswith("# {")]
    assert len(expected) == 2
    assert printed[-len(expected) :] == expected

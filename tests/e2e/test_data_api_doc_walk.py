"""docs/data-api.md's walks work as written against `minibase serve`: relations expanded
through their rules, and a misspelt step; sales by day in two time zones, the best buyer with
their record, a refused stage."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import (
    doc_block,
    printed_lines,
    run_walk,
    shown_output,
    start_server,
    stop_server,
)


def test_the_expand_walk(tmp_path: Path) -> None:
    script = doc_block("data-api.md", "sh", after="### Walking relations with curl")
    server = start_server(tmp_path)
    try:
        result = run_walk(script, server.port, tmp_path)
    finally:
        stop_server(server)
    assert printed_lines(result) == shown_output(script)


def test_the_aggregation_walk(tmp_path: Path) -> None:
    script = doc_block("data-api.md", "sh", after="### A walk with curl")
    server = start_server(tmp_path)
    try:
        result = run_walk(script, server.port, tmp_path)
    finally:
        stop_server(server)
    assert printed_lines(result) == shown_output(script)

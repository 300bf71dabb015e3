"""docs/messages.md's access-token walk works as written against `minibase serve --dev`: an
app's token is shown as not fetched yet, then an admin's refresh fetches one (its state shown,
never its value)."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import assert_printed_as_shown, doc_block, shown_output, walk_dev_server


def test_the_access_token_walk_shows_a_token_after_a_refresh(tmp_path: Path) -> None:
    script = doc_block("messages.md", "sh", after="### An app's token in the admin API")
    assert_printed_as_shown(walk_dev_server(script, tmp_path), shown_output(script))

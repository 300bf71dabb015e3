"""docs/messages.md works as written against `minibase serve --dev`: a person accepts a
template in the sandbox, the mini program reports it, and the message an admin queues is sent."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import doc_block, shown_output, walk_dev_server


def test_the_subscribe_message_walk_sends_the_message(tmp_path: Path) -> None:
    script = doc_block("messages.md", "sh", after="## Subscribe messages")
    assert walk_dev_server(script, tmp_path) == shown_output(script)

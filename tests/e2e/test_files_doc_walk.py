"""docs/files.md works as written against `minibase serve --dev`: upload as wx.uploadFile does,
write the file into a record, a temporary URL, a thumbnail and a range, another user refused,
an upload straight into the record, deleteFile; and `minibase files gc` runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.e2e.conftest import (
    MASTER_KEY,
    MINIBASE,
    doc_block,
    printed_lines,
    run_walk,
    shown_output,
    start_server,
    stop_server,
)


def test_the_files_walk(tmp_path: Path) -> None:
    script = doc_block("files.md", "sh", after="## A walk with curl")
    server = start_server(tmp_path, "--dev")
    try:
        result = run_walk(script, server.port, tmp_path)
    finally:
        stop_server(server)
    assert result.returncode == 0, result.stderr
    assert printed_lines(result) == shown_output(script)

    gc = subprocess.run(
        [MINIBASE, "files", "gc", "--dry-run"],
        cwd=tmp_path,
        env={"MINIBASE_MASTER_KEY": MASTER_KEY, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert gc.returncode == 0, gc.stderr
    assert gc.stdout.startswith("would remove: 0 uploads no record took")

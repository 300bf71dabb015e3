"""docs/payments.md works as written: its functions file (price and fulfilment hooks) beside
`minibase serve --dev`, and its curl walk through a whole purchase and a refund."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import doc_block, run_walk, start_server, stop_server


def _printed(script: str) -> list[str]:
    """What the doc says the commands print: its `# {...`, `# [...` and `# "..."` lines."""
    return [line[2:] for line in script.splitlines() if line.startswith(("# {", "# [", '# "'))]


def test_the_purchase_walk_pays_fulfils_and_refunds(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "shop.py").write_text(doc_block("payments.md", "python"))
    server = start_server(tmp_path, "--dev")
    try:
        script = doc_block("payments.md", "sh", after="## A whole purchase with curl")
        result = run_walk(script, server.port, tmp_path)
    finally:
        stop_server(server)
    assert result.returncode == 0, result.stderr
    printed = [
        line
        for line in result.stdout.splitlines()
        if line.strip() and not line.startswith("admin created")
    ]
    expected = _printed(script)
    assert len(printed) == len(expected), result.stdout
    for got, want in zip(printed, expected, strict=True):
        pattern = re.escape(want).replace(r"\.\.\.", ".*")
        assert re.fullmatch(pattern, got), (got, want)

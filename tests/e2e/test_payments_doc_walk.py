"""docs/payments.md works as written: its functions file (price and fulfilment hooks) beside
`minibase serve --dev`, and its curl walk through a whole purchase and a refund."""

from __future__ import annotations

import re
from pathlib import Path

from tests.e2e.conftest import run_walk, start_server, stop_server

DOC = Path(__file__).resolve().parents[2] / "docs" / "payments.md"


def _block(language: str, after: str = "") -> str:
    text = DOC.read_text().split(after, 1)[1] if after else DOC.read_text()
    match = re.search(rf"```{language}\n(.*?)```", text, re.S)
    assert match, f"docs/payments.md lost its {language} example"
    return match.group(1)


def _printed(script: str) -> list[str]:
    """What the doc says the commands print: its `# {...`, `# [...` and `# "..."` lines."""
    return [line[2:] for line in script.splitlines() if line.startswith(("# {", "# [", '# "'))]


def test_the_purchase_walk_pays_fulfils_and_refunds(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "shop.py").write_text(_block("python"))
    server = start_server(tmp_path, "--dev")
    try:
        script = _block("sh", after="## A whole purchase with curl")
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

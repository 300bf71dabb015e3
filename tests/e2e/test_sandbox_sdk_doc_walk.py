"""docs/sandbox.md's SDK script works as written: wechatpy, wechatpayv3 and python-alipay-sdk,
pointed at `minibase sandbox` by their base URLs, log in, prepay and create a trade."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from minibase.testing.sandbox import SandboxProcess
from tests.e2e.conftest import doc_block


def _printed(script: str) -> list[str]:
    """What the doc says each print shows: the `# ...` after a print call."""
    return re.findall(r"^print\(.*\)  # (.+)$", script, re.M)


def test_the_sdk_script_runs_against_the_sandbox(tmp_path: Path) -> None:
    script = doc_block("sandbox.md", "python", after="## Pointing a platform SDK at the sandbox")
    sandbox = SandboxProcess()
    try:
        (tmp_path / "sdks.py").write_text(script.replace("http://127.0.0.1:9000", sandbox.url))
        result = subprocess.run(
            [sys.executable, "sdks.py"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        sandbox.stop()
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == _printed(script)

"""The `minibase` command run as users run it: a real subprocess, in an empty working
directory, with no MINIBASE_* variables but those a test sets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MINIBASE = Path(sys.executable).with_name("minibase")


class Cli:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "data"

    def environment(self, **variables: str) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("MINIBASE_")}
        return {**clean, **variables}

    def run(
        self, *args: str, env: dict[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(MINIBASE), *args],
            cwd=self.workdir,
            env=self.environment(**(env or {})),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

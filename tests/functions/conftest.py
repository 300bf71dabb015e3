"""Each test module declares FUNCTIONS (the source of a functions file); it is written to a
fresh functions folder before the app starts, as a user would deploy it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from minibase.config import Settings
from minibase.jobs import JobWorker
from minibase.services import Services


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    folder = tmp_path / "functions"
    folder.mkdir()
    source = getattr(request.module, "FUNCTIONS", "")
    (folder / "app.py").write_text(textwrap.dedent(source))
    return settings.replace(functions_dir=folder)


async def run_jobs(services: Services) -> int:
    """Run every due job to the end, as a server's worker would."""
    worker = JobWorker(
        services.jobs, services.functions.handler_for, concurrency=2, poll_interval=0.05
    )
    return await worker.run_until_idle()

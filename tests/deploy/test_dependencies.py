"""Dependencies kept current: an update bot's configuration for every ecosystem minibase uses,
version bounds that let patch releases in, and `scripts/audit`, which fails on a known
vulnerability and never passes when it could not ask."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.version import Version

from tests.deploy.advisory_server import MINIMIST_ADVISORY, advisory_registry
from tests.deploy.manifests import ROOT
from tests.e2e.conftest import free_port

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
REQUIREMENTS = [
    Requirement(text)
    for text in PYPROJECT["project"]["dependencies"]
    + [item for group in PYPROJECT["project"]["optional-dependencies"].values() for item in group]
]
AUDIT = ROOT / "scripts" / "audit"
MINIMIST_VERSIONS = {"minimist": ["1.2.5", "1.2.6"]}


def test_the_update_bot_configuration_follows_dependabots_schema() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.dependabot",
            str(ROOT / ".github" / "dependabot.yml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("ecosystem", "manifest"),
    [("pip", "pyproject.toml"), ("npm", "package-lock.json"), ("docker", "Dockerfile")],
)
def test_the_update_bot_watches_python_npm_and_docker(ecosystem: str, manifest: str) -> None:
    updates = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())["updates"]
    (entry,) = [u for u in updates if u["package-ecosystem"] == ecosystem]
    assert (ROOT / entry["directory"].lstrip("/") / manifest).is_file()


@pytest.mark.parametrize("requirement", REQUIREMENTS, ids=lambda r: r.name)
def test_every_python_dependency_lets_patch_releases_in(requirement: Requirement) -> None:
    operators = {spec.operator for spec in requirement.specifier}
    assert not operators & {"==", "==="}, "an exact pin keeps fixes out"
    for spec in requirement.specifier:
        if spec.operator in (">=", "~="):
            floor = Version(spec.version)
            patch = Version(f"{floor.major}.{floor.minor}.{floor.micro + 1}")
            assert requirement.specifier.contains(patch, prereleases=True), str(requirement)


def audit(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(AUDIT), *args],
        env={**os.environ, "AUDIT_PYTHON": sys.executable, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def vulnerable_npm_project(folder: Path) -> Path:
    """A lockfile with minimist 1.2.5, whose prototype pollution was fixed in 1.2.6."""
    folder.mkdir()
    (folder / "package.json").write_text(
        '{"name": "vulnerable", "version": "1.0.0", "dependencies": {"minimist": "1.2.5"}}'
    )
    root = {"name": "vulnerable", "version": "1.0.0", "dependencies": {"minimist": "1.2.5"}}
    minimist = {
        "version": "1.2.5",
        "resolved": "https://registry.npmjs.org/minimist/-/minimist-1.2.5.tgz",
    }
    lock = {
        "name": "vulnerable",
        "version": "1.0.0",
        "lockfileVersion": 3,
        "requires": True,
        "packages": {"": root, "node_modules/minimist": minimist},
    }
    (folder / "package-lock.json").write_text(json.dumps(lock))
    return folder


def no_python_packages(folder: Path) -> Path:
    """An empty pinned list: the Python side has nothing to look up."""
    pinned = folder / "nothing.txt"
    pinned.write_text("")
    return pinned


def audit_npm_project(
    tmp_path: Path,
    advisories: dict[str, list[dict[str, Any]]],
    python_requirements: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """The audit of the vulnerable npm project against a registry with `advisories`, beside
    `python_requirements` (none by default)."""
    npm = vulnerable_npm_project(tmp_path / "js")
    pinned = python_requirements or no_python_packages(tmp_path)
    with advisory_registry(advisories, MINIMIST_VERSIONS) as registry:
        return audit(
            "--python-requirements",
            str(pinned),
            "--npm-dir",
            str(npm),
            npm_config_registry=registry,
            npm_config_cache=str(tmp_path / "npm-cache"),
        )


def test_the_audit_fails_on_a_known_vulnerable_npm_package(tmp_path: Path) -> None:
    result = audit_npm_project(tmp_path, {"minimist": [MINIMIST_ADVISORY]})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Prototype Pollution in minimist" in result.stdout
    assert "audit: FAILED" in result.stderr


def test_the_audit_passes_the_same_lockfile_when_no_advisory_names_it(tmp_path: Path) -> None:
    result = audit_npm_project(tmp_path, {})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "audit: passed" in result.stderr


def test_a_known_vulnerable_python_package_never_passes_the_audit(tmp_path: Path) -> None:
    """requests 2.19.0 sends credentials on an https -> http redirect (CVE-2018-18074). Where
    PyPI's vulnerability data is reachable the audit fails on it; where it is not (the build
    machine: PyPI's JSON API answers 404 there), the audit says the Python side was not checked
    and fails too. Either way it does not pass."""
    pinned = tmp_path / "requirements.txt"
    pinned.write_text("requests==2.19.0\n")
    result = audit_npm_project(tmp_path, {}, pinned)
    assert result.returncode in (1, 3), result.stdout + result.stderr
    if result.returncode == 1:
        assert "PYSEC-2018-28" in result.stdout or "CVE-2018-18074" in result.stdout
    else:
        assert "the Python side was NOT checked" in result.stderr
        assert "this is not a pass" in result.stderr


def test_the_audit_says_so_and_fails_when_the_databases_cannot_be_reached(
    tmp_path: Path,
) -> None:
    pinned = tmp_path / "requirements.txt"
    pinned.write_text("requests==2.19.0\n")
    npm = vulnerable_npm_project(tmp_path / "js")
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    result = audit(
        "--python-requirements",
        str(pinned),
        "--npm-dir",
        str(npm),
        HTTPS_PROXY=nowhere,
        HTTP_PROXY=nowhere,
        https_proxy=nowhere,
        http_proxy=nowhere,
        npm_config_registry=nowhere + "/",
        npm_config_cache=str(tmp_path / "npm-cache"),
        npm_config_fetch_retries="0",
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    assert result.returncode == 3, result.stdout + result.stderr
    assert "the Python side was NOT checked" in result.stderr
    assert "the JS side was NOT checked" in result.stderr
    assert "this is not a pass" in result.stderr

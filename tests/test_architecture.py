"""The layout's promises, checked: dependencies point inward, every error code is catalogued
and documented, and no module does work at import time."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from minibase.config import Settings
from minibase.errors import CATALOGUE, render_markdown

SRC = Path(__file__).resolve().parents[1] / "src" / "minibase"
DOCS = Path(__file__).resolve().parents[1] / "docs"

# package -> minibase packages (or top-level modules) it may import
ALLOWED = {
    "rules": set(),
    "platforms": set(),
    "sandbox": {"platforms", "clock"},
    "store": {
        "rules",
        "client_json",
        "clock",
        "config",
        "errors",
        "memo",
        "ids",
        "private_files",
        "server_folder",
        "vault",
    },
    "auth": {
        "store",
        "platforms",
        "clock",
        "config",
        "errors",
        "memo",
        "gateway",
        "ids",
        "messaging",
        "services",
        "vault",
    },
    "messaging": {
        "auth",
        "platforms",
        "clock",
        "errors",
        "gateway",
        "jobs",
        "services",
        "store",
        "vault",
    },
    "data": {
        "store",
        "rules",
        "auth",
        "client_json",
        "clock",
        "config",
        "errors",
        "memo",
        "files",
        "hooks",
        "ids",
        "jobs",
        "services",
    },
    "functions": {
        "auth",
        "backups",
        "clock",
        "config",
        "data",
        "errors",
        "hooks",
        "jobs",
        "messaging",
        "pay",
        "services",
        "store",
    },
    "jobs": {"store", "clock", "errors", "ids"},
    # backups of the embedded database: SQLite's own copy, the data directory, an S3 bucket
    "backups": {"clock", "config", "files", "private_files", "store"},
    # watched queries: the data API's lists and rules, over a socket of their own
    "realtime": {"auth", "data", "errors", "rules", "services", "store"},
    # the file features see the standard library, httpx and these leaf modules, nothing of the
    # server (private_files: the data directory's modes, for the local storage backend)
    "files": {"errors", "clock", "private_files"},
    "pay": {
        "auth",
        "clock",
        "config",
        "errors",
        "gateway",
        "ids",
        "jobs",
        "platforms",
        "services",
        "store",
        "vault",
    },
    "http": {
        "data",
        "files",
        "jobs",
        "pay",
        "messaging",
        "auth",
        "store",
        "rules",
        "platforms",
        "client_json",
        "errors",
        "memo",
        "services",
        "clock",
        "config",
        "health",
        "log",
        "observability",
        "sandbox_wiring",
    },
    # metrics and readiness: they read the services graph and its stores, never the reverse
    "observability": {"errors", "platforms", "server_folder", "services", "store"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "minibase" and len(parts) > 1:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("package", sorted(p for p in ALLOWED if (SRC / p).is_dir()))
def test_packages_import_only_inward(package: str) -> None:
    for path in (SRC / package).rglob("*.py"):
        outward = _imports(path) - ALLOWED[package] - {package}
        assert not outward, f"{path.relative_to(SRC)} imports minibase.{sorted(outward)}"


def _raised() -> list[tuple[str, str, int | None]]:
    """(file, code, status) of every ApiError(...) / _bad_query(...) call in the source."""
    found = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            first = node.args[0]
            if name not in ("ApiError", "_bad_query") or not isinstance(first, ast.Constant):
                continue
            status = None
            if name == "ApiError" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                status = node.args[1].value
            found.append((str(path.relative_to(SRC)), first.value, status))
    return found


def _raised_codes() -> set[str]:
    return {code for _, code, _ in _raised()}


def test_every_error_code_raised_is_in_the_catalogue() -> None:
    raised = _raised_codes()
    assert raised, "the scan found no codes: the pattern is broken"
    assert raised - set(CATALOGUE) == set()


def test_errors_md_is_the_catalogue_rendered() -> None:
    """Regenerate with `python -m minibase.errors > docs/errors.md`."""
    assert (DOCS / "errors.md").read_text() == render_markdown()


def test_every_setting_is_in_the_configuration_docs() -> None:
    documented = {
        name.strip()
        for row in (DOCS / "configuration.md").read_text().splitlines()
        if row.startswith("| ")
        for name in row.split("|")[1].split(",")
    }
    settings = {f.name for f in dataclasses.fields(Settings)} - {"extra"}
    assert sorted(settings - documented) == []


def test_every_error_is_raised_with_its_catalogued_status() -> None:
    wrong = [
        f"{where}: {code} {status}"
        for where, code, status in _raised()
        if status is not None and code in CATALOGUE and CATALOGUE[code][0] != status
    ]
    assert wrong == []


def test_no_module_level_mutable_singletons() -> None:
    """State lives in objects that create_app builds; modules hold constants and functions."""
    offenders = []
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign | ast.AnnAssign):
                value = node.value
                called = isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                if called and value.func.id in {"dict", "list", "set", "defaultdict", "Lock"}:
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
                if isinstance(value, ast.List | ast.Dict | ast.Set) and not _is_constant_name(node):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []


def _is_constant_name(node: ast.Assign | ast.AnnAssign) -> bool:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return all(
        isinstance(t, ast.Name) and (t.id.isupper() or t.id.startswith("_")) for t in targets
    )

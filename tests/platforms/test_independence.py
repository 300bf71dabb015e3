"""minibase.platforms stands alone: usable from Django, Flask, FastAPI or a script."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import minibase.platforms

PACKAGE = Path(minibase.platforms.__file__).parent
THIRD_PARTY_ALLOWED = {"httpx", "cryptography"}


def _imported_modules() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path.name}: relative import"
                names.add(node.module or "")
        found[str(path.relative_to(PACKAGE))] = names
    return found


def test_the_sdk_imports_nothing_from_the_rest_of_minibase():
    outward = {
        path: sorted(
            name
            for name in names
            if name.split(".")[0] == "minibase" and not name.startswith("minibase.platforms")
        )
        for path, names in _imported_modules().items()
    }

    assert {path: names for path, names in outward.items() if names} == {}


def test_the_sdk_needs_only_httpx_and_cryptography_beyond_the_standard_library():
    roots = {name.split(".")[0] for names in _imported_modules().values() for name in names}

    extra = roots - set(sys.stdlib_module_names) - THIRD_PARTY_ALLOWED - {"minibase", "__future__"}

    assert extra == set()


def test_the_scan_sees_every_platform_package():
    scanned = {path.split("/")[0] for path in _imported_modules()}

    assert {"wechat", "alipay", "douyin", "baidu", "qq"} <= scanned

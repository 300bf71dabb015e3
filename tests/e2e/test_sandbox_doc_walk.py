"""docs/sandbox.md works as written and keeps up with the sandbox: its examples, pasted in
order, run against `minibase serve --dev` and print what the doc says; every `/control/...`
route in the sandbox's route tables has a section with an example that calls it, and every
section a route; every `sandbox.*` error code is in its table."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import httpx
import pytest

import minibase.sandbox
from minibase.sandbox import create_sandbox
from minibase.sandbox.routing import Route
from tests.e2e.conftest import DOCS, assert_printed_as_shown, shown_output, walk_dev_server

DOC = DOCS / "sandbox.md"
SANDBOX_SOURCE = Path(minibase.sandbox.__file__).parent
_HEADING = re.compile(r"^#### `([A-Z]+) (/control/\S+)`$", re.M)


def _api_part() -> str:
    text = DOC.read_text()
    return text.split("## The control API", 1)[1].split("## Errors of the control API", 1)[0]


def _examples(text: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", text, re.S)


def control_routes() -> set[tuple[str, str]]:
    """Every control route in the route tables (`ROUTES`) of the sandbox's modules."""
    found: set[tuple[str, str]] = set()
    for module in pkgutil.walk_packages(minibase.sandbox.__path__, "minibase.sandbox."):
        if module.name.endswith(".__main__"):
            continue
        routes = getattr(importlib.import_module(module.name), "ROUTES", ())
        found |= {
            (route.method, route.path)
            for route in routes
            if isinstance(route, Route) and route.path.startswith("/control/")
        }
    return found


def _documented() -> dict[tuple[str, str], str]:
    """Each documented endpoint and the text of its section."""
    text = _api_part()
    sections = _HEADING.split(text)[1:]
    return {
        (method, path): body
        for method, path, body in zip(sections[::3], sections[1::3], sections[2::3], strict=True)
    }


def test_the_control_walk_prints_what_the_doc_says(tmp_path: Path) -> None:
    script = "".join(_examples(_api_part()))
    assert_printed_as_shown(walk_dev_server(script, tmp_path), shown_output(script))


def test_every_control_route_has_a_section_and_every_section_a_route() -> None:
    routes = control_routes()
    assert ("POST", "/control/login-code") in routes  # the tables were found
    assert set(_documented()) == routes


@pytest.mark.parametrize(("method", "path"), sorted(_documented()))
def test_each_section_has_an_example_that_calls_its_route(method: str, path: str) -> None:
    called = re.sub(r"\\\{\w+\\\}", r"[^/\\s\"]+", re.escape(f"/_sandbox{path}"))
    examples = "".join(_examples(_documented()[(method, path)]))
    assert re.search(called + r"(?![\w/-])", examples), f"no example calls {method} {path}"


async def test_the_control_routes_found_are_the_ones_the_sandbox_serves() -> None:
    routes = control_routes()
    transport = httpx.ASGITransport(app=create_sandbox())
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        for method, path in sorted(routes):
            url = path.replace("{trace_id}", "no-such-check")
            answer = (await client.request(method, url, content=b"not json")).json()
            assert answer.get("code") not in ("sandbox.not_found", "sandbox.method_not_allowed")
            for other in {"GET", "POST", "PUT", "DELETE"} - {m for m, p in routes if p == path}:
                assert (await client.request(other, url)).status_code == 405, (other, path)


def test_every_sandbox_error_code_is_in_the_table() -> None:
    raised = {
        code
        for source in SANDBOX_SOURCE.rglob("*.py")
        for code in re.findall(r'"(sandbox\.[a-z_]+)"', source.read_text())
    }
    table = DOC.read_text().split("## Errors of the control API", 1)[1]
    assert raised == set(re.findall(r"^\| `(sandbox\.[a-z_]+)` \|", table, re.M))

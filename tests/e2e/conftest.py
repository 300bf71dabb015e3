"""Run the real server as a user would: `minibase serve` in a subprocess, over real HTTP."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

MINIBASE = str(Path(sys.executable).with_name("minibase"))
MASTER_KEY = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U="
ADMIN_PW = "a long password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class RunningServer:
    url: str
    port: int
    cwd: Path
    process: subprocess.Popen[bytes]


def start_server(
    cwd: Path, *args: str, env: dict[str, str] | None = None, port: int | None = None
) -> RunningServer:
    port = port or free_port()
    environment = {**os.environ, "MINIBASE_MASTER_KEY": MASTER_KEY, **(env or {})}
    process = subprocess.Popen(
        [MINIBASE, "serve", "--port", str(port), *args],
        cwd=cwd,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            assert process.stderr is not None
            raise RuntimeError(f"server exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(url + "/api/health", timeout=1).status_code == 200:
                return RunningServer(url, port, cwd, process)
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not become healthy in 30 s")


def admin_headers(server: RunningServer, email: str = "me@example.com") -> dict[str, str]:
    """Create an admin with the CLI, as an operator would, and sign in: its auth headers."""
    env = {**os.environ, "MINIBASE_MASTER_KEY": MASTER_KEY, "MINIBASE_ADMIN_PASSWORD": ADMIN_PW}
    subprocess.run(
        [MINIBASE, "admin", "create", email],
        cwd=server.cwd,
        env=env,
        check=True,
        capture_output=True,
    )
    token = httpx.post(
        f"{server.url}/api/admin/login", json={"email": email, "password": ADMIN_PW}
    ).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def stop_server(server: RunningServer) -> None:
    os.killpg(server.process.pid, 15)
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, 9)
        server.process.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server on the embedded default (SQLite in ./minibase_data of a fresh directory)."""
    running = start_server(tmp_path)
    try:
        yield running
    finally:
        stop_server(running)


def json_values(text: str) -> list[dict[str, object]]:
    """The JSON objects curl printed back to back (it adds no newlines)."""
    decoder, values, position = json.JSONDecoder(), [], 0
    while (start := text.find("{", position)) != -1:
        value, position = decoder.raw_decode(text, start)
        values.append(value)
    return values


DOCS = Path(__file__).resolve().parents[2] / "docs"


def doc_block(doc: str, language: str, after: str = "") -> str:
    """The first ```language block of docs/`doc` (after the text `after`, when given)."""
    text = (DOCS / doc).read_text()
    text = text.split(after, 1)[1] if after else text
    match = re.search(rf"```{language}\n(.*?)```", text, re.S)
    assert match, f"docs/{doc} lost its {language} example"
    return match.group(1)


def run_walk(script: str, port: int, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A doc's curl walk, as a user would paste it, against the server on `port`."""
    script = script.replace("localhost:8080", f"127.0.0.1:{port}")
    script = script.replace(".venv/bin/minibase", MINIBASE)
    script = script.replace(".venv/bin/python", sys.executable)
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "MINIBASE_MASTER_KEY": MASTER_KEY},
        check=False,
    )


# What a doc shows a command printing: `# {...`, `# [...`, `# "..."`, `# 3`, `# true` lines.
_SHOWN = re.compile(r'# (?:[\[{"\d]|true$|false$|null$)')


def shown_output(script: str) -> list[str]:
    """The output a doc's walk shows, in its comment lines."""
    return [line[2:] for line in script.splitlines() if _SHOWN.match(line)]


def printed_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """What a walk that succeeded printed: its non-blank lines but `admin create`'s own."""
    assert result.returncode == 0, result.stderr
    return [
        line
        for line in result.stdout.splitlines()
        if line.strip() and not line.startswith("admin created")
    ]


def walk_dev_server(script: str, cwd: Path) -> list[str]:
    """A doc's walk against a fresh `minibase serve --dev` in `cwd`: the lines it printed."""
    server = start_server(cwd, "--dev")
    try:
        result = run_walk(script, server.port, cwd)
    finally:
        stop_server(server)
    return printed_lines(result)


def assert_printed_as_shown(printed: list[str], shown: list[str]) -> None:
    """Line by line, a walk printed what its doc shows; `...` in the doc stands for anything."""
    assert len(printed) == len(shown), "\n".join(printed)
    for got, want in zip(printed, shown, strict=True):
        pattern = re.escape(want).replace(r"\.\.\.", ".*")
        assert re.fullmatch(pattern, got), (got, want)

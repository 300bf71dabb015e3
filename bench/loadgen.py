"""Running wrk with a scenario script and reading what it measured."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

WRK_DIR = Path(__file__).resolve().parent / "wrk"
RESULT_PREFIX = "BENCH_RESULT "


class LoadError(RuntimeError):
    """wrk could not run, or printed no result."""


@dataclass(frozen=True)
class Load:
    """What to send: wrk's URL, the scenario script and the environment it reads."""

    url: str
    script: str  # file name in bench/wrk/
    auth: str | None = None  # the whole Authorization header value
    users_file: Path | None = None  # many users instead: their Authorization and id, a line each
    ids_file: Path | None = None  # get_by_id.lua: one record id a line (and its owner's line)
    path_prefix: str | None = None  # get_by_id.lua: the path the id is appended to
    body: str | None = None  # create.lua: the JSON body
    extra: dict[str, str] = field(default_factory=dict)  # more variables for the script

    def environment(self) -> dict[str, str]:
        env = {"BENCH_WRK_DIR": str(WRK_DIR)}
        if self.auth:
            env["BENCH_AUTH"] = self.auth
        if self.users_file:
            env["BENCH_USERS"] = str(self.users_file)
        if self.ids_file:
            env["BENCH_IDS"] = str(self.ids_file)
        if self.path_prefix:
            env["BENCH_PATH"] = self.path_prefix
        if self.body is not None:
            env["BENCH_BODY"] = self.body
            env["BENCH_CONTENT_TYPE"] = "application/json"
        env.update(self.extra)
        return env


@dataclass
class Measurement:
    requests: int
    seconds: float
    errors: dict[str, int]
    latency_ms: dict[str, float]
    load_before: float  # 1-minute load average when the run started
    load_after: float
    output: str = field(repr=False)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def p50(self) -> float:
        return self.latency_ms["p50"]

    @property
    def p99(self) -> float:
        return self.latency_ms["p99"]

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["rps"] = round(self.rps, 1)
        return data


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise LoadError("wrk is not installed: run bench/install-deps")
    return found


def load_average() -> float:
    return os.getloadavg()[0]


def run_wrk(load: Load, *, duration: int, connections: int, threads: int = 2) -> Measurement:
    """One `wrk -tT -cC -dDs --latency` run; raises LoadError if wrk fails or reports nothing."""
    command = [
        wrk_path(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        str(WRK_DIR / load.script),
        load.url,
    ]
    before = load_average()
    done = subprocess.run(
        command,
        env={**os.environ, **load.environment(), "BENCH_THREADS": str(threads)},
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=False,
    )
    after = load_average()
    if done.returncode != 0:
        raise LoadError(f"wrk exited {done.returncode}: {done.stderr.strip() or done.stdout}")
    return parse_output(done.stdout, load_before=before, load_after=after)


def parse_output(output: str, *, load_before: float = 0.0, load_after: float = 0.0) -> Measurement:
    for line in output.splitlines():
        if line.startswith(RESULT_PREFIX):
            raw = json.loads(line.removeprefix(RESULT_PREFIX))
            break
    else:
        raise LoadError(f"wrk printed no {RESULT_PREFIX.strip()} line:\n{output}")
    return Measurement(
        requests=raw["requests"],
        seconds=raw["duration_us"] / 1e6,
        errors=dict(raw["errors"]),
        latency_ms={name: value / 1000 for name, value in raw["latency_us"].items()},
        load_before=load_before,
        load_after=load_after,
        output=output,
    )

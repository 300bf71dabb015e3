"""Sampling minibase's worker with py-spy during a load run, and summing up where time went."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

TOP = 15


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.is_file() else shutil.which("py-spy")


def start_recording(pid: int, duration: float, output: Path) -> subprocess.Popen[bytes]:
    """py-spy on the server and its worker processes, collapsed stacks (one line a stack).

    Only samples of a thread holding the GIL are kept (`--gil`): a worker is one process
    with one GIL, so that is the time that limits it; threads blocked in SQLite or waiting
    on a queue are left out (py-spy's idle detection misses some of those)."""
    binary = py_spy()
    if binary is None:
        raise RuntimeError("py-spy is not installed: run bench/install-deps")
    command = [binary, "record", "--pid", str(pid), "--subprocesses", "--threads", "--gil"]
    command += ["--nolineno", "--rate", "200", "--format", "raw"]
    command += ["--duration", f"{max(1, round(duration))}", "--output", str(output)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _stacks(raw: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in raw.read_text(errors="replace").splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    return stacks


def _is_python_frame(frame: str) -> bool:
    """'function (file.py)'; not py-spy's 'process 12:"cmdline"' and 'thread (0x...)'."""
    return frame.endswith(".py)") and " (" in frame


def _module_of(frame: str) -> str:
    """'get_record (minibase/data/records.py)' -> 'minibase.data'; 'run (asyncio/events.py)'
    -> 'asyncio'."""
    where = frame.rpartition(" (")[2].rstrip(")")
    parts = where.removesuffix(".py").split("/")
    if parts[0] == "minibase" and len(parts) > 2:
        return ".".join(parts[:2])
    return parts[0] if len(parts) > 1 else where


def _is_request_code(frame: str) -> bool:
    """minibase's and Starlette's functions, not the server's and threads' bootstrap frames."""
    where = frame.rpartition(" (")[2]
    return where.startswith(("minibase/", "starlette/")) and where != "minibase/cli.py)"


def _thread_of(frames: list[str]) -> str:
    """'thread (10805): sqlite-reader_2' -> 'sqlite-reader' (the pool, not the one thread)."""
    for frame in frames:
        if frame.startswith("thread ("):
            name = frame.partition("): ")[2] or frame
            return name.rstrip("0123456789").rstrip("_") or name
    return "?"


def summarize(raw: Path, top: int = TOP) -> dict[str, Any]:
    """Self time (the running frame) per function and per module, inclusive time per
    minibase or Starlette function, each as a share of the samples (of a thread holding the GIL)."""
    stacks = _stacks(raw)
    total = sum(count for _, count in stacks)
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    modules: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    for frames, count in stacks:
        python = [f for f in frames if _is_python_frame(f)]
        threads[_thread_of(frames)] += count
        if not python:
            continue
        own[python[-1]] += count
        modules[_module_of(python[-1])] += count
        for frame in set(python):
            if _is_request_code(frame):
                inclusive[frame] += count

    def shares(counter: Counter[str]) -> list[dict[str, Any]]:
        return [
            {"what": name, "share": round(n / total, 4), "samples": n}
            for name, n in counter.most_common(top)
        ]

    return {
        "samples": total,
        "self": shares(own),
        "inclusive": shares(inclusive),
        "self_by_module": shares(modules),
        "threads": shares(threads),
    }


def format_summary(summary: dict[str, Any]) -> str:
    lines = [f"  {summary['samples']} samples of threads holding the GIL"]
    for title, key in (
        ("by thread", "threads"),
        ("self time by module", "self_by_module"),
        ("self time", "self"),
    ):
        lines.append(f"  {title}:")
        lines.extend(f"    {row['share']:6.1%}  {row['what']}" for row in summary[key][:10])
    lines.append("  inclusive time (minibase and Starlette functions):")
    lines.extend(f"    {row['share']:6.1%}  {row['what']}" for row in summary["inclusive"][:TOP])
    return "\n".join(lines)

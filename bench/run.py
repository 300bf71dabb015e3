"""Load benchmark: minibase beside PocketBase and a bare Starlette app, one server loaded at a time.

    .venv/bin/python bench/run.py [--duration 10] [--connections 64] [--dataset small|realistic]
                                  [--runs N] [--only minibase|pocketbase|bare] [--workers N]
                                  [--postgres] [--scenario KEY ...] [--profile]

For each run and dataset: starts the servers on loopback with temporary data directories, gives
them the same collections, rules, indexes, users and records, checks every scenario answers
correctly, then runs `wrk -t2 -c64 -d10s --latency` per scenario and server; then ANALYZE on
PocketBase's database and its scenarios again. Prints markdown tables and writes
bench/results/<timestamp>.json. Exits 1 if any run failed its check or saw errors.
See bench/README.md and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any

from bare_target import BareTarget
from counters import CounterError, Counting
from dataset import DEFAULT, SIZES, Dataset
from loadgen import LoadError, run_wrk, wrk_path
from minibase_target import MinibaseTarget
from pocketbase_target import PocketBaseTarget
from proc_stats import process_tree
from processes import ServerError, postgres_database
from report import Outcome, detail_table, markdown_table
from sampling import format_summary, start_recording, summarize
from scenarios import SCENARIOS, CheckFailed, Scenario, Target, check, load_for

AnyTarget = MinibaseTarget | PocketBaseTarget | BareTarget
RESULTS = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per run (10)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--warmup", type=int, default=2, help="unrecorded seconds first (2)")
    parser.add_argument(
        "--only",
        action="append",
        choices=["minibase", "pocketbase", "bare"],
        help="this server only (repeatable; default all three)",
    )
    parser.add_argument(
        "--dataset",
        action="append",
        choices=list(SIZES),
        help="small (1 user, 10,000 records) or realistic (1,000 users, 100,000 records);"
        " growth-10k and growth-1m: ~100 records a user as in realistic, at 10,000 and"
        " 1,000,000 (repeatable; default small and realistic)",
    )
    parser.add_argument(
        "--runs", type=int, default=1, help="full rounds in a row; the tables give the median (1)"
    )
    parser.add_argument(
        "--workers",
        default="auto",
        help="minibase worker processes, as its --workers (auto: the server's default, one per"
        " core); the bare app runs as many",
    )
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="minibase on a fresh database of the local PostgreSQL (MINIBASE_BENCH_POSTGRES_URL)"
        " instead of SQLite; beside PocketBase unless --only says otherwise (the bare app is"
        " SQLite's ceiling: not loaded)",
    )
    parser.add_argument(
        "--scenario",
        action="append",
        choices=[s.key for s in SCENARIOS],
        help="run only this scenario (repeatable; default all)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="after each minibase run, one more run under py-spy; summary in the results",
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a minibase setting for the server, e.g. rate_limits_per_user=records_read=9/second"
        " (repeatable)",
    )
    parser.add_argument(
        "--counters",
        action="store_true",
        help="count each measured run's server CPU time, system calls and context switches a"
        " request (perf stat; bench/counters.py)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    except OSError:
        pass
    wrk = subprocess.run([wrk_path(), "-v"], capture_output=True, text=True, check=False)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "granian": metadata.version("granian"),
        "sqlite": sqlite3.sqlite_version,
        "wrk": (wrk.stdout or wrk.stderr).splitlines()[0] if (wrk.stdout or wrk.stderr) else "",
        "load_average_at_start": os.getloadavg(),
    }


def measure(
    target: Target,
    scenario: Scenario,
    dataset: Dataset,
    args: argparse.Namespace,
    pid: int,
    run: int,
) -> Outcome:
    outcome = Outcome(scenario, target.name, dataset.name, run)
    try:
        check(target, scenario, dataset)
    except (CheckFailed, KeyError, ValueError) as exc:
        outcome.failure = f"check failed: {exc}"
        say(f"  {target.label}: {outcome.failure}")
        return outcome
    load = load_for(target, scenario, dataset)
    options = {"connections": args.connections, "threads": args.threads}
    try:
        if args.warmup > 0:
            run_wrk(load, duration=args.warmup, **options)
        counting = Counting(process_tree(pid)) if args.counters else None
        outcome.measurement = run_wrk(load, duration=args.duration, **options)
        if counting is not None:
            outcome.costs = counting.stop(outcome.measurement.rps * args.duration)
        if args.profile and target.name == "minibase":
            outcome.profile = _profiled_run(target, scenario, dataset, args, pid)
    except LoadError as exc:
        outcome.failure = f"wrk: {exc}"
    except CounterError as exc:
        outcome.failure = f"counters: {exc}"
    m = outcome.measurement
    if m is not None:
        errors = f", {m.error_count} ERRORS {m.errors}" if m.error_count else ""
        costs = outcome.costs
        spent = (
            f"; a request: CPU {costs['cpu_us']:.0f} µs, {costs['syscalls']:.1f} system calls,"
            f" {costs['switches']:.2f} context switches"
            if costs
            else ""
        )
        say(
            f"  {target.label}: {m.rps:,.0f} req/s, p50 {m.p50:.1f} ms, p99 {m.p99:.1f} ms"
            f"{errors}{spent}"
        )
    return outcome


def _profiled_run(
    target: Target, scenario: Scenario, dataset: Dataset, args: argparse.Namespace, pid: int
) -> dict[str, Any]:
    raw = args.results_dir / f"profile-{target.name}-{scenario.key}-{int(time.time())}.txt"
    recorder = start_recording(pid, args.duration, raw)
    try:
        time.sleep(0.5)  # let py-spy attach before the load starts
        load = load_for(target, scenario, dataset)
        run_wrk(load, duration=args.duration, connections=args.connections)
        _, stderr = recorder.communicate(timeout=args.duration + 60)
    finally:
        if recorder.poll() is None:
            recorder.kill()
            recorder.wait()
    if recorder.returncode != 0 or not raw.exists():
        return {"error": stderr.decode(errors="replace")[-2000:]}
    summary = summarize(raw)
    summary["raw_file"] = str(raw)
    say(format_summary(summary))
    return summary


def run(args: argparse.Namespace) -> int:
    args.results_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    scenarios = tuple(s for s in SCENARIOS if not args.scenario or s.key in args.scenario)
    chosen = args.dataset or DEFAULT
    datasets = [Dataset.named(name) for name in SIZES if name in chosen]
    outcomes: list[Outcome] = []
    rounds: list[dict[str, Any]] = []
    servers: dict[str, Any] = {}
    info = machine()
    for run_number in range(1, args.runs + 1):
        for dataset in datasets:
            say(f"run {run_number} of {args.runs}, dataset {dataset.description}")
            rounds.append(measure_round(args, dataset, scenarios, run_number, outcomes, servers))
    document = {
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "settings": {
            "duration_s": args.duration,
            "connections": args.connections,
            "wrk_threads": args.threads,
            "warmup_s": args.warmup,
            "runs": args.runs,
            "datasets": [d.name for d in datasets],
            "scenarios": [s.key for s in scenarios],
            "targets": args.only or "all",
            "minibase_workers": args.workers,
            "minibase_database": "postgres" if args.postgres else "sqlite",
            "minibase_settings": args.setting,
            "profile": args.profile,
            "counters": args.counters,
        },
        "datasets": {
            d.name: {"users": d.users, "records_per_collection": len(d.records)} for d in datasets
        },
        "machine": {**info, "load_average_at_end": os.getloadavg()},
        "servers": servers,
        "rounds": rounds,
        "outcomes": [o.to_json() for o in outcomes],
    }
    path = args.results_dir / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    print()
    print(detail_table(outcomes))
    print()
    for r in rounds:
        times = ", ".join(f"{name} {s:.1f}" for name, s in r["setup_s"].items())
        print(f"start and seed, run {r['run']} {r['dataset']} (s): {times}")
    print()
    described = {d.name: d.description for d in datasets}
    print(markdown_table(outcomes, scenarios, described, args.runs, args.postgres))
    print()
    flagged = [o for o in outcomes if o.flagged]
    for o in flagged:
        print(f"FLAGGED {o.target} {o.dataset} run {o.run} {o.scenario.key}: ", end="")
        print(o.failure or o.measurement)
    print(f"results: {path}")
    return 1 if flagged else 0


def measure_round(
    args: argparse.Namespace,
    dataset: Dataset,
    scenarios: tuple[Scenario, ...],
    run_number: int,
    outcomes: list[Outcome],
    servers: dict[str, Any],
) -> dict[str, Any]:
    """One round on fresh servers: start and seed each, load every scenario on each, then
    PocketBase again with planner statistics; adds to `outcomes` and `servers`, returns what
    the round set up."""
    done: dict[str, Any] = {"run": run_number, "dataset": dataset.name, "setup_s": {}}
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="minibase-bench-")))
        environment: dict[str, str] = {}
        if args.postgres:
            url = stack.enter_context(postgres_database("mb_bench_run"))
            environment = {"MINIBASE_DATABASE_URL": url, "MINIBASE_AUTO_MIGRATE": "true"}
        for setting in args.setting:
            name, _, value = setting.partition("=")
            environment[f"MINIBASE_{name.upper()}"] = value
        targets: list[AnyTarget] = []
        try:
            targets += _targets(args, tmp, environment)
            for target in targets:
                say(f"starting {target.description} and seeding {dataset.description}")
                begun = time.monotonic()
                target.start()
                target.setup(dataset)
                done["setup_s"][target.name] = round(time.monotonic() - begun, 1)
                say(f"  ready in {time.monotonic() - begun:.1f}s on {target.base_url}")
                servers[target.name] = {"version": target.version, "setup": target.description}
            for scenario in scenarios:
                say(f"{scenario.key}: {scenario.title}")
                for target in targets:
                    outcomes.append(_measured(target, scenario, dataset, args, run_number))
            pocketbase = next((t for t in targets if isinstance(t, PocketBaseTarget)), None)
            if pocketbase is not None:
                say("PocketBase: stopped, ANALYZE on its database, started again")
                done["pocketbase_analyze"] = pocketbase.analyze()
                servers[pocketbase.name] = {
                    "version": pocketbase.version,
                    "setup": pocketbase.description + ", then ANALYZE (planner statistics)",
                }
                for scenario in scenarios:
                    say(f"{scenario.key}: {scenario.title}")
                    outcomes.append(_measured(pocketbase, scenario, dataset, args, run_number))
        finally:
            for target in reversed(targets):
                target.stop()
    return done


def _targets(args: argparse.Namespace, tmp: Path, environment: dict[str, str]) -> list[AnyTarget]:
    """The servers to load, in the order each scenario loads them (--postgres: no bare app)."""
    wanted = args.only or ["minibase", "pocketbase", "bare"]
    if args.postgres:
        wanted = [name for name in wanted if name != "bare"]
    targets: list[AnyTarget] = []
    if "minibase" in wanted:
        minibase = tmp / "minibase"
        targets.append(MinibaseTarget(minibase, workers=args.workers, environment=environment))
    if "pocketbase" in wanted:
        targets.append(PocketBaseTarget(tmp / "pocketbase"))
    if "bare" in wanted:
        targets.append(BareTarget(tmp / "bare", workers=args.workers))
    return targets


def _measured(
    target: AnyTarget,
    scenario: Scenario,
    dataset: Dataset,
    args: argparse.Namespace,
    run_number: int,
) -> Outcome:
    target.refresh_auth()
    assert target.pid is not None
    return measure(target, scenario, dataset, args, target.pid, run_number)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        return run(args)
    except KeyboardInterrupt:
        say("interrupted: servers stopped, temporary data removed")
        return 130
    except (ServerError, LoadError, subprocess.CalledProcessError) as exc:
        say(f"bench: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())

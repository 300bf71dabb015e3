"""Scale-out load bench: 1, 2 and 3 `minibase serve` instances on PostgreSQL and Redis behind
nginx, a ramp of connections and a soak, with the CPU each part spends per 1,000 requests.

    .venv/bin/python bench/scale.py [--instances 1,2,3] [--connections 4,8,16,32,64,128]
                                    [--step-seconds 5] [--warmup 2] [--scenario read|write ...]
                                    [--soak-seconds 60] [--soak-connections 32]

For each instance count: a fresh PostgreSQL database (MINIBASE_BENCH_POSTGRES_URL's server,
dropped after), Redis (MINIBASE_BENCH_REDIS_URL, default db 9, emptied first) as cache_url,
N instances sharing one master key, bench/run.py's `priv` collection (owner rule) with 10,000
seeded records, and Debian's nginx balancing round robin in front. Each scenario is checked
through nginx, then loaded with wrk at each connection count in turn. Then one soak at the
largest instance count. Prints markdown tables and writes bench/results/scale-<timestamp>.json.
Exits 1 if any step saw errors or a check failed. See bench/README.md and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import httpx
from balancer import NginxBalancer
from dataset import Dataset
from loadgen import Load, LoadError, run_wrk
from minibase_target import MinibaseTarget
from proc_stats import TICKS, cpu_seconds, process_tree, rss_bytes
from processes import ServerError, postgres_database
from run import machine
from scenarios import SCENARIOS, CheckFailed, Scenario, check, load_for
from target import User

RESULTS = Path(__file__).resolve().parent / "results"
MASTER_KEY = "c2NhbGUtYmVuY2gtbWFzdGVyLWtleS0zMi1ieXRlcyE="  # the instances share it
REDIS = os.environ.get("MINIBASE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
# the brief's two scenarios, by their keys in scenarios.py
SCENARIO_KEYS = {"read": "get_owned", "write": "create_owned"}
BEND_P99 = 2.0  # p99 more than twice the lightest step's
BEND_GAIN = 1.05  # or throughput rising by 5% or less over the step before
COMPONENTS = ("minibase", "nginx", "postgres", "wrk")


def _csv_ints(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=_csv_ints, default=[1, 2, 3], help="(1,2,3)")
    parser.add_argument(
        "--connections", type=_csv_ints, default=[4, 8, 16, 32, 64, 128], help="ramp steps"
    )
    parser.add_argument("--step-seconds", type=int, default=5, help="measured seconds a step")
    parser.add_argument("--warmup", type=int, default=2, help="unrecorded seconds per scenario")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIO_KEYS), help="(read and write)"
    )
    parser.add_argument("--soak-seconds", type=int, default=60, help="0: no soak")
    parser.add_argument("--soak-connections", type=int, default=32)
    parser.add_argument("--soak-scenario", choices=sorted(SCENARIO_KEYS), default="read")
    parser.add_argument(
        "--idle-seconds", type=int, default=3, help="CPU with no load, before the ramps (3)"
    )
    parser.add_argument("--workers", type=int, default=1, help="granian workers an instance")
    parser.add_argument("--nginx-workers", default="auto", help="nginx worker_processes")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


# -- what the processes use -------------------------------------------------------------


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def postgres_pids(database: str) -> list[int]:
    """The server's own processes (postmaster, checkpointer, WAL writer...) and the backends
    connected to `database`; other databases' backends (other people's tests) are left out."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if (entry / "comm").read_text().strip() != "postgres":
                continue
        line = _cmdline(int(entry.name))
        backend = "(" in line or "[local]" in line
        if not backend or f" {database} " in line:
            pids.append(int(entry.name))
    return pids


@dataclass
class Cluster:
    """What runs for one instance count: the instances, nginx, and the database's name."""

    instances: list[MinibaseTarget]
    nginx: NginxBalancer
    database: str
    front: Front

    def pids(self) -> dict[str, list[int]]:
        minibase: list[int] = []
        for instance in self.instances:
            assert instance.pid is not None
            minibase += process_tree(instance.pid)
        return {
            "minibase": minibase,
            "nginx": process_tree(self.nginx.pid),
            "postgres": postgres_pids(self.database),
        }

    def cpu(self) -> dict[str, dict[int, float]]:
        return {name: {p: cpu_seconds([p]) for p in pids} for name, pids in self.pids().items()}

    def rss_mb(self) -> dict[str, float]:
        return {
            name: round(sum(rss_bytes(p) for p in pids) / 2**20, 1)
            for name, pids in self.pids().items()
        }


def machine_busy() -> tuple[float, float]:
    """The whole machine's busy and total CPU seconds so far (/proc/stat, every core)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    total = sum(values[:8])  # guest time is already inside user
    return (total - idle) / TICKS, total / TICKS


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]) -> dict:
    """CPU seconds per component between two snapshots; a process born in between counts
    from zero, one gone in between is lost (pooled connections and workers stay put)."""
    return {
        name: sum(t - before.get(name, {}).get(pid, 0.0) for pid, t in after[name].items())
        for name in after
    }


# -- the front: nginx seen as a scenarios.Target ----------------------------------------


@dataclass
class Front:
    """The balancer as scenarios.py's Target: its URL, the first instance's users and ids."""

    base_url: str
    workdir: Path
    users: list[User]
    ids: dict[str, list[str]]
    client: httpx.Client
    name: str = "minibase"
    label: str = "minibase behind nginx"
    id_key: str = "_id"
    list_query: dict[str, str] = field(default_factory=dict)


@contextlib.contextmanager
def cluster(
    count: int, dataset: Dataset, workdir: Path, args: argparse.Namespace
) -> Iterator[Cluster]:
    import redis

    redis.Redis.from_url(REDIS).flushdb()
    with postgres_database("mb_bench_scale") as url:
        env = {
            "MINIBASE_DATABASE_URL": url,
            "MINIBASE_AUTO_MIGRATE": "true",
            "MINIBASE_MASTER_KEY": MASTER_KEY,
            "MINIBASE_CACHE_URL": REDIS,
        }
        instances: list[MinibaseTarget] = []
        nginx: NginxBalancer | None = None
        try:
            for n in range(count):
                instance = MinibaseTarget(
                    workdir / f"minibase-{n + 1}",
                    workers=args.workers,
                    environment=env,
                    create_admin=n == 0,
                )
                instances.append(instance)
                instance.start()
                if n == 0:
                    instance.setup(dataset)
            nginx = NginxBalancer(
                workdir / "nginx", [i.port for i in instances], workers=args.nginx_workers
            )
            first = instances[0]
            client = httpx.Client(base_url=nginx.base_url, timeout=60.0)
            front = Front(nginx.base_url, workdir, first.users, first.ids, client)
            try:
                yield Cluster(instances, nginx, url.rsplit("/", 1)[1], front)
            finally:
                client.close()
        finally:
            if nginx is not None:
                nginx.stop()
            for instance in reversed(instances):
                instance.stop()


# -- one measured run ---------------------------------------------------------------------


def measured(
    cluster: Cluster, load: Load, seconds: int, connections: int, args: argparse.Namespace
) -> dict:
    """One wrk run with its CPU by component, per 1,000 requests, and /proc/loadavg around it."""
    avg_before, cpu_before, wrk_before = loadavg(), cluster.cpu(), _children_cpu()
    busy_before = machine_busy()
    m = run_wrk(load, duration=seconds, connections=connections, threads=args.threads)
    cpu = cpu_used(cpu_before, cluster.cpu())
    cpu["wrk"] = _children_cpu() - wrk_before
    busy, total = (
        after - before for after, before in zip(machine_busy(), busy_before, strict=True)
    )
    ours = sum(cpu.values())
    per_1000 = {k: round(v * 1000 / m.requests, 3) if m.requests else None for k, v in cpu.items()}
    return {
        "connections": connections,
        "rps": round(m.rps, 1),
        "p50_ms": round(m.p50, 2),
        "p99_ms": round(m.p99, 2),
        "requests": m.requests,
        "errors": m.error_count,
        "error_kinds": {k: v for k, v in m.errors.items() if v},
        "cpu_s": {k: round(v, 2) for k, v in cpu.items()},
        "cpu_s_per_1000": per_1000,
        # every core's busy time over the step, and what of it was not the bench's parts
        "machine_busy_s": round(busy, 2),
        "machine_cores_s": round(total, 2),
        "others_busy_s": round(max(busy - ours, 0.0), 2),
        "loadavg_before": avg_before,
        "loadavg_after": loadavg(),
        "wrk_output": m.output,
    }


def idle(cluster: Cluster, seconds: int) -> dict:
    """What the parts use with no requests (jobs polling, definitions re-read...), a second."""
    before = cluster.cpu()
    time.sleep(seconds)
    used = cpu_used(before, cluster.cpu())
    return {name: round(value / seconds, 4) for name, value in used.items()}


def bend(steps: list[dict]) -> dict | None:
    """The first step whose p99 is more than twice the lightest step's, or whose throughput
    rose by 5% or less over the step before; None if latency never bends on the ramp."""
    if not steps:
        return None
    lightest = steps[0]["p99_ms"]
    for before, step in itertools.pairwise(steps):
        if step["p99_ms"] > BEND_P99 * lightest:
            return {"connections": step["connections"], "why": "p99 > 2x the lightest step's"}
        if step["rps"] <= BEND_GAIN * before["rps"]:
            return {"connections": step["connections"], "why": "throughput rose <= 5%"}
    return None


def ramp(cluster: Cluster, scenario: Scenario, dataset: Dataset, args: argparse.Namespace) -> dict:
    check(cluster.front, scenario, dataset)
    load = load_for(cluster.front, scenario, dataset)
    if args.warmup > 0:
        run_wrk(load, duration=args.warmup, connections=args.connections[0], threads=args.threads)
    steps = []
    for connections in args.connections:
        step = measured(cluster, load, args.step_seconds, connections, args)
        steps.append(step)
        say(f"    c={connections:<4} {_line(step)}")
    return {"scenario": scenario.key, "steps": steps, "bend": bend(steps)}


def _line(step: dict) -> str:
    cpu = step["cpu_s_per_1000"]
    errors = f", {step['errors']} ERRORS {step['error_kinds']}" if step["errors"] else ""
    return (
        f"{step['rps']:8,.0f} req/s  p50 {step['p50_ms']:7.1f} ms  p99 {step['p99_ms']:7.1f} ms"
        f"  CPU s/1k: mb {cpu['minibase']} ngx {cpu['nginx']} pg {cpu['postgres']}"
        f" wrk {cpu['wrk']}  others {step['others_busy_s']}s"
        f"  load {step['loadavg_before'].split()[0]}"
        f"->{step['loadavg_after'].split()[0]}{errors}"
    )


def soak(cluster: Cluster, dataset: Dataset, args: argparse.Namespace) -> dict:
    scenario = _scenario(args.soak_scenario)
    load = load_for(cluster.front, scenario, dataset)
    rss_before = cluster.rss_mb()
    step = measured(cluster, load, args.soak_seconds, args.soak_connections, args)
    step.update(scenario=scenario.key, rss_mb_start=rss_before, rss_mb_end=cluster.rss_mb())
    say(f"    soak {args.soak_seconds}s c={args.soak_connections}: {_line(step)}")
    say(f"    RSS MB start {step['rss_mb_start']} end {step['rss_mb_end']}")
    return step


def _scenario(name: str) -> Scenario:
    return next(s for s in SCENARIOS if s.key == SCENARIO_KEYS[name])


# -- tables -------------------------------------------------------------------------------


def ramp_table(runs: list[dict]) -> str:
    lines = [
        "| instances | scenario | conns | req/s | p50 ms | p99 ms | errors"
        " | CPU s/1k req: minibase | nginx | PostgreSQL | wrk | others' CPU s"
        " | load 1m before → after |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        for step in run["steps"]:
            lines.append(_row(run["instances"], run["scenario"], step))
    return "\n".join(lines)


def _row(instances: int, scenario: str, step: dict) -> str:
    cpu = step["cpu_s_per_1000"]
    load = f"{step['loadavg_before'].split()[0]} → {step['loadavg_after'].split()[0]}"
    return (
        f"| {instances} | {scenario} | {step['connections']} | {step['rps']:,.0f}"
        f" | {step['p50_ms']:.1f} | {step['p99_ms']:.1f} | {step['errors']}"
        + "".join(f" | {cpu[c]}" for c in COMPONENTS)
        + f" | {step['others_busy_s']} of {step['machine_cores_s']} | {load} |"
    )


def summary_table(runs: list[dict]) -> str:
    lines = [
        "| instances | scenario | best req/s (conns) | latency bends at | why |",
        "|---:|---|---:|---:|---|",
    ]
    for run in runs:
        best = max(run["steps"], key=lambda s: s["rps"])
        bent = run["bend"] or {"connections": "—", "why": "did not bend on this ramp"}
        lines.append(
            f"| {run['instances']} | {run['scenario']} | {best['rps']:,.0f} ({best['connections']})"
            f" | {bent['connections']} | {bent['why']} |"
        )
    return "\n".join(lines)


# -- the run --------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    args.results_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    scenarios = [_scenario(name) for name in (args.scenario or ["read", "write"])]
    dataset = Dataset.generate()
    info = machine()
    runs: list[dict] = []
    soaked: dict | None = None
    idles: list[dict] = []
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="minibase-scale-") as tmp:
        for count in args.instances:
            say(f"{count} instance(s): fresh database, seeding {len(dataset.records):,} records")
            begun = time.monotonic()
            with cluster(count, dataset, Path(tmp) / f"n{count}", args) as running:
                say(f"  ready in {time.monotonic() - begun:.1f}s behind {running.nginx.base_url}")
                if args.idle_seconds > 0:
                    idles.append({"instances": count, **idle(running, args.idle_seconds)})
                    say(f"  idle, CPU s a second: {idles[-1]}")
                for scenario in scenarios:
                    say(f"  {scenario.key}: {scenario.title}")
                    try:
                        result = ramp(running, scenario, dataset, args)
                    except (CheckFailed, KeyError, ValueError) as exc:
                        failures.append(f"{count} instance(s) {scenario.key}: check: {exc}")
                        say(f"    {failures[-1]}")
                        continue
                    runs.append({"instances": count, **result})
                if count == max(args.instances) and args.soak_seconds > 0:
                    soaked = {"instances": count, **soak(running, dataset, args)}
    document = {
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "settings": {key: value for key, value in vars(args).items() if key != "results_dir"},
        "redis": REDIS,
        "machine": {**info, "load_average_at_end": os.getloadavg()},
        "note": "the machine was shared with other engineers' tests: figures are provisional",
        "idle_cpu_s_per_s": idles,
        "runs": runs,
        "soak": soaked,
        "failures": failures,
    }
    path = args.results_dir / f"scale-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(ramp_table(runs))
    print()
    print(summary_table(runs))
    for one in idles:
        print(f"\nidle, {one['instances']} instance(s), CPU s a second: {one}")
    if soaked is not None:
        print()
        print(ramp_table([{**soaked, "steps": [soaked]}]).replace("| conns", "| conns (soak)"))
        print(f"\nsoak RSS MB: start {soaked['rss_mb_start']}, end {soaked['rss_mb_end']}")
    errors = [s for r in runs for s in r["steps"] if s["errors"]]
    if soaked is not None and soaked["errors"]:
        errors.append(soaked)
    for failure in failures:
        print(f"FAILED {failure}")
    if errors:
        print(f"FLAGGED: {len(errors)} run(s) saw errors")
    print(f"results: {path}")
    return 1 if failures or errors else 0


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

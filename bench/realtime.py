"""Realtime benchmark: many watchers on one server, one writer, latency from the commit.

    .venv/bin/python bench/realtime.py [--clients 1000] [--rate 20] [--duration 10]
                                       [--writers 8] [--processes 2]
                                       [--only sqlite|postgres|pocketbase ...]

For each setup in turn — minibase on its embedded SQLite; two minibase instances on a fresh
database of the local PostgreSQL, the watchers spread over both and the writes through the
first; PocketBase's server-sent events — the server gets run.py's `priv` collection (owner
rule) and records; `--clients` sockets, held by `--processes` child processes
(bench/realtime_clients.py), each watch `priv` as the bench user: three in four with a filter
the writer's records match, one in four with one they never match. Then one writer (this
process) creates records in `priv` as that user: `--rate` a second for `--duration` seconds,
then with `--writers` requests in flight (as fast as it can) for as long.

Latency is from the moment the writer has the create's answer (sent after the commit) to the
moment a watcher's process has the change, on the machine's one monotonic clock; events
delivered per second are the arrivals at all watchers over the phase. Prints a markdown table
and writes bench/results/realtime-<timestamp>.json. See bench/README.md and
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from dataset import SEED, Dataset, new_record
from minibase_target import MinibaseTarget
from pocketbase_target import PocketBaseTarget
from proc_stats import cpu_seconds, process_tree, rss_bytes
from processes import ServerError, postgres_database
from realtime_clients import BUCKET, Tally, Watcher, WatchPlan, watch
from run import machine, say
from sampling import format_summary, start_recording
from sampling import summarize as summarize_profile

RESULTS = Path(__file__).resolve().parent / "results"
SETUPS = ("sqlite", "postgres", "pocketbase")
MASTER_KEY = "cmVhbHRpbWUtYmVuY2gtbWFzdGVyLWtleS0zMmJ5dGU="  # two instances share it
MATCH_EVERY = 4  # one watcher in this many watches a filter the writes never match
Target = MinibaseTarget | PocketBaseTarget


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000, help="watching sockets (1000)")
    parser.add_argument("--rate", type=float, default=20, help="writes/s, fixed phase (20)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per phase (10)")
    parser.add_argument("--writers", type=int, default=8, help="writes in flight, max phase (8)")
    parser.add_argument("--processes", type=int, default=2, help="watcher processes (2)")
    parser.add_argument("--records", type=int, default=1000, help="records seeded (1000)")
    parser.add_argument("--only", action="append", choices=SETUPS, help="repeatable; default all")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="minibase: one more flat-out phase under py-spy (--gil), not in the table",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    return parser.parse_args(argv)


# -- the servers -------------------------------------------------------------------------


@contextlib.contextmanager
def servers(setup: str, workdir: Path, dataset: Dataset) -> Iterator[list[Target]]:
    """The setup's servers, started and seeded; the first takes the writes."""
    targets: list[Target] = []
    with contextlib.ExitStack() as stack:
        if setup == "pocketbase":
            targets.append(PocketBaseTarget(workdir / "pocketbase"))
        elif setup == "sqlite":
            targets.append(MinibaseTarget(workdir / "minibase"))
        else:
            url = stack.enter_context(postgres_database("mb_bench_realtime"))
            env = {
                "MINIBASE_DATABASE_URL": url,
                "MINIBASE_AUTO_MIGRATE": "true",
                "MINIBASE_MASTER_KEY": MASTER_KEY,
            }
            targets.append(MinibaseTarget(workdir / "minibase-1", environment=env))
            targets.append(
                MinibaseTarget(workdir / "minibase-2", environment=env, create_admin=False)
            )
        try:
            for i, target in enumerate(targets):
                target.start()
                if i == 0:
                    target.setup(dataset)
            yield targets
        finally:
            for target in reversed(targets):
                target.stop()


def plan_watchers(targets: list[Target], clients: int, processes: int) -> list[WatchPlan]:
    first = targets[0]
    minibase = first.name == "minibase"
    instances = len(targets)
    watchers = [
        Watcher(url=i % instances, matches=(i // instances) % MATCH_EVERY != MATCH_EVERY - 1)
        for i in range(clients)
    ]
    random.Random(SEED).shuffle(watchers)  # each process: both kinds, on every instance
    return [
        WatchPlan(
            kind=first.name,
            urls=tuple(t.base_url for t in targets),
            auth=first.user_auth,
            collection="priv",
            # the writer's records have score 0 (dataset.new_record)
            match_filter={"score": {"$lt": 500}} if minibase else "score < 500",
            miss_filter={"score": {"$gt": 5000}} if minibase else "score > 5000",
            watchers=tuple(watchers[p::processes]),
        )
        for p in range(processes)
    ]


# -- the writer --------------------------------------------------------------------------


@dataclass
class Writes:
    acks: dict[str, tuple[float, float]] = field(default_factory=dict)  # id -> sent, answered
    seconds: list[float] = field(default_factory=list)  # request -> answer
    errors: Counter[str] = field(default_factory=Counter)
    began: float = 0.0
    ended: float = 0.0


async def _create(http: httpx.AsyncClient, target: Target, writes: Writes) -> None:
    sent = time.monotonic()
    try:
        answer = await http.post(
            "/api/collections/priv/records",
            json=new_record(target.user_id),
            headers={"Authorization": target.user_auth},
        )
    except httpx.HTTPError as error:
        writes.errors[type(error).__name__] += 1
        return
    acked = time.monotonic()
    if answer.status_code in (200, 201):
        writes.acks[answer.json()[target.id_key]] = (sent, acked)
        writes.seconds.append(acked - sent)
    else:
        writes.errors[str(answer.status_code)] += 1


async def write(target: Target, duration: float, rate: float | None, writers: int) -> Writes:
    """At `rate` a second (0: none), or (rate None) with `writers` requests in flight, for
    `duration` seconds."""
    writes = Writes(began=time.monotonic())
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=target.base_url, limits=limits, timeout=30) as http:
        if rate == 0:
            await asyncio.sleep(duration)  # idle: what the open sockets cost alone
        elif rate is not None:
            pending = []
            for i in range(int(rate * duration)):
                await asyncio.sleep(max(0.0, writes.began + i / rate - time.monotonic()))
                pending.append(asyncio.create_task(_create(http, target, writes)))
            await asyncio.gather(*pending)
        else:

            async def loop() -> None:
                while time.monotonic() - writes.began < duration:
                    await _create(http, target, writes)

            await asyncio.gather(*(loop() for _ in range(writers)))
    writes.ended = time.monotonic()
    return writes


# -- measuring a phase -------------------------------------------------------------------


class Sampler:
    """CPU of the servers' and the watchers' processes, the servers' peak RSS, the machine."""

    def __init__(self, servers: list[int], watchers: list[int]) -> None:
        self.servers, self.watchers = servers, watchers
        self.peak_rss = 0

    @staticmethod
    def _machine_busy() -> tuple[float, float]:
        fields = [float(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return sum(fields) - fields[3] - fields[4], sum(fields)  # busy, all (idle, iowait out)

    def _rss(self) -> int:
        return sum(rss_bytes(p) for s in self.servers for p in process_tree(s))

    async def _sample(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.peak_rss = max(self.peak_rss, self._rss())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.25)

    def _cpu(self) -> tuple[float, float, float, float]:
        trees = [p for s in self.servers for p in process_tree(s)]
        return (
            cpu_seconds(trees),
            cpu_seconds(self.watchers),
            cpu_seconds([os.getpid()]),
            cpu_seconds(_postgres_processes()),
        )

    @contextlib.asynccontextmanager
    async def during(self, into: dict[str, Any]) -> Any:
        load, cpu, busy, began = os.getloadavg()[0], self._cpu(), self._machine_busy(), time.time()
        self.peak_rss, stop = 0, asyncio.Event()
        task = asyncio.create_task(self._sample(stop))
        yield
        stop.set()
        await task
        wall = time.time() - began
        after, busy_after = self._cpu(), self._machine_busy()
        share = [round(100 * (b - a) / wall) for a, b in zip(cpu, after, strict=True)]
        into["server_cpu_pct"], into["watchers_cpu_pct"], into["writer_cpu_pct"] = share[:3]
        into["postgres_cpu_pct"] = share[3]  # every backend of the machine's PostgreSQL
        into["watcher_processes"] = len(self.watchers)
        into["server_peak_rss_mb"] = round(self.peak_rss / 2**20)
        into["machine_busy_pct"] = round(
            100 * (busy_after[0] - busy[0]) / max(busy_after[1] - busy[1], 1)
        )
        into["load_1m"] = [round(load, 2), round(os.getloadavg()[0], 2)]


def _postgres_processes() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
    return pids


def percentile(histogram: Counter[int], share: float) -> float | None:
    total = histogram.total()
    if total == 0:
        return None
    rank, seen = math.ceil(share * total), 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return round(1000 * bucket / BUCKET, 1)  # ms
    return None


def summarize(name: str, writes: Writes, tallies: list[Tally], urls: int) -> dict[str, Any]:
    merged: Counter[int] = Counter()
    rows: dict[str, Any] = {}
    for url in range(urls):
        histogram: Counter[int] = Counter()
        for tally in tallies:
            histogram.update(tally.latency.get(url, Counter()))
        merged.update(histogram)
        rows[f"instance {url + 1}"] = {
            "delivered": histogram.total(),
            "p50_ms": percentile(histogram, 0.5),
            "p99_ms": percentile(histogram, 0.99),
            "max_ms": percentile(histogram, 1.0),
        }
    from_request: Counter[int] = Counter()
    for tally in tallies:
        from_request.update(tally.from_request)
    expected = sum(t.expected.total() for t in tallies)
    delivered = merged.total()
    last = max((t.last_arrival for t in tallies), default=writes.ended)
    span = max(last, writes.ended) - writes.began
    write_ms = sorted(1000 * s for s in writes.seconds)
    closed: Counter[str] = Counter()
    for tally in tallies:
        closed.update(tally.closed)
    return {
        "phase": name,
        "writes": len(writes.acks),
        "writes_per_s": round(len(writes.acks) / (writes.ended - writes.began), 1),
        "seconds": round(writes.ended - writes.began, 2),
        "write_p50_ms": round(write_ms[len(write_ms) // 2], 1) if write_ms else None,
        "write_p99_ms": round(write_ms[int(len(write_ms) * 0.99)], 1) if write_ms else None,
        "write_errors": dict(writes.errors),
        "delivered": delivered,
        "delivered_per_s": round(delivered / span) if span > 0 else None,
        "p50_ms": percentile(merged, 0.5),
        "p99_ms": percentile(merged, 0.99),
        "max_ms": percentile(merged, 1.0),
        "from_request_p50_ms": percentile(from_request, 0.5),
        "from_request_p99_ms": percentile(from_request, 0.99),
        "dropped": expected - delivered,
        "unexpected": sum(t.unexpected for t in tallies),
        "stray": sum(t.stray for t in tallies),
        "closed": dict(closed),
        "by_instance": rows if urls > 1 else None,
    }


async def measure(
    name: str,
    target: Target,
    pipes: list[Any],
    sampler: Sampler,
    args: argparse.Namespace,
    rate: float | None,
    urls: int,
) -> dict[str, Any]:
    usage: dict[str, Any] = {}
    async with sampler.during(usage):
        writes = await write(target, args.duration, rate, args.writers)
        loop = asyncio.get_running_loop()
        for pipe in pipes:
            pipe.send(("measure", writes.acks))
        answers = [await loop.run_in_executor(None, pipe.recv) for pipe in pipes]
    result = {**summarize(name, writes, [tally for _, tally in answers], urls), **usage}
    r, u = result, usage
    say(
        f"  {name}: {r['writes_per_s']:,} writes/s, {r['delivered_per_s'] or 0:,} events/s"
        f" delivered; from the answer p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max"
        f" {r['max_ms']} ms; from the request p50 {r['from_request_p50_ms']} ms, p99"
        f" {r['from_request_p99_ms']} ms; writes p99 {r['write_p99_ms']} ms; dropped"
        f" {r['dropped']}; CPU: server {u['server_cpu_pct']}%, PostgreSQL"
        f" {u['postgres_cpu_pct']}%, watchers {u['watchers_cpu_pct']}%, writer"
        f" {u['writer_cpu_pct']}%; machine busy {u['machine_busy_pct']}%, load {u['load_1m']}"
    )
    return result


def run_setup(setup: str, args: argparse.Namespace, dataset: Dataset) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    with (
        tempfile.TemporaryDirectory(prefix="minibase-bench-rt-") as tmp,
        servers(setup, Path(tmp), dataset) as targets,
    ):
        say(f"{setup}: {targets[0].description}, {len(targets)} instance(s)")
        pipes, children = [], []
        try:
            for plan in plan_watchers(targets, args.clients, args.processes):
                ours, theirs = context.Pipe()
                child = context.Process(target=watch, args=(theirs, plan), daemon=True)
                child.start()
                pipes.append(ours)
                children.append(child)
            readies = [pipe.recv()[1] for pipe in pipes]
            connected = sum(r["connected"] for r in readies)
            failed: Counter[str] = Counter()
            for ready in readies:
                failed.update(ready["failed"])
            seconds = max(r["seconds"] for r in readies)
            say(f"  {connected} watchers subscribed in {seconds:.1f}s; failed: {dict(failed)}")
            servers_pids = [t.pid for t in targets if t.pid is not None]
            sampler = Sampler(servers_pids, [c.pid for c in children if c.pid is not None])
            first = targets[0]
            phases = [
                ("warm-up (1 s, not counted)", args.rate, 1.0),
                ("idle (no writes)", 0, min(args.duration, 5.0)),
                (f"fixed {args.rate:g}/s", args.rate, args.duration),
                (f"max ({args.writers} in flight)", None, args.duration),
            ]
            results = []
            for name, rate, duration in phases:
                phase_args = argparse.Namespace(**{**vars(args), "duration": duration})
                results.append(
                    asyncio.run(
                        measure(name, first, pipes, sampler, phase_args, rate, len(targets))
                    )
                )
            profile = None
            if args.profile and first.name == "minibase" and first.pid is not None:
                raw = args.results_dir / f"profile-realtime-{setup}-{int(time.time())}.txt"
                name = f"max ({args.writers} in flight), under py-spy"
                profile = profiled(
                    first.pid,
                    args.duration,
                    raw,
                    lambda: asyncio.run(
                        measure(name, first, pipes, sampler, args, None, len(targets))
                    ),
                )
            return {
                "setup": setup,
                "servers": [t.description for t in targets],
                "watchers": {"connected": connected, "failed": dict(failed), "seconds": seconds},
                "phases": results[1:],
                "profile": profile,
            }
        finally:
            for pipe in pipes:
                with contextlib.suppress(OSError):
                    pipe.send(("stop", None))
            for child in children:
                child.join(10)
                if child.is_alive():
                    child.kill()


def profiled(pid: int, seconds: float, raw: Path, phase: Callable[[], Any]) -> dict[str, Any]:
    """py-spy on the server (sampling.py) while `phase` runs; the summary of where time went."""
    recorder = start_recording(pid, seconds + 1, raw)
    try:
        time.sleep(0.5)  # let py-spy attach first
        phase()
        _, stderr = recorder.communicate(timeout=seconds + 60)
    finally:
        if recorder.poll() is None:
            recorder.kill()
            recorder.wait()
    if recorder.returncode != 0 or not raw.exists():
        return {"error": stderr.decode(errors="replace")[-2000:]}
    summary = summarize_profile(raw)
    summary["raw_file"] = str(raw)
    say(format_summary(summary))
    return summary


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f} ms"


def table(runs: list[dict[str, Any]]) -> str:
    lines = [
        "| setup | phase | writes/s | events delivered/s | p50 | p99 | max | dropped"
        " | server CPU | server RSS | watchers CPU | machine busy | load 1m |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in runs:
        for p in run["phases"]:
            lines.append(
                f"| {run['setup']} | {p['phase']} | {p['writes_per_s']:,} |"
                f" {p['delivered_per_s'] or 0:,} | {_ms(p['p50_ms'])} | {_ms(p['p99_ms'])} |"
                f" {_ms(p['max_ms'])} | {p['dropped']:,} | {p['server_cpu_pct']}% |"
                f" {p['server_peak_rss_mb']} MB | {p['watchers_cpu_pct']}% |"
                f" {p['machine_busy_pct']}% | {p['load_1m'][0]}→{p['load_1m'][1]} |"
            )
            for instance, row in (p["by_instance"] or {}).items():
                lines.append(
                    f"| | {instance} | | {row['delivered']:,} delivered | {_ms(row['p50_ms'])}"
                    f" | {_ms(row['p99_ms'])} | {_ms(row['max_ms'])} | | | | | | |"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    dataset = Dataset.generate(count=args.records)
    info = machine()
    runs = []
    try:
        for setup in args.only or SETUPS:
            runs.append(run_setup(setup, args, dataset))
    except (ServerError, OSError) as exc:
        say(f"bench: {exc}")
        return 2
    except KeyboardInterrupt:
        say("interrupted: servers stopped, temporary data removed")
        return 130
    document = {
        "started": started.isoformat(),
        "finished": datetime.now(UTC).isoformat(),
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": {**info, "load_average_at_end": os.getloadavg()},
        "runs": runs,
    }
    path = args.results_dir / f"realtime-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(table(runs))
    flagged = [
        (run["setup"], p["phase"])
        for run in runs
        for p in run["phases"]
        if p["dropped"] or p["unexpected"] or p["write_errors"] or p["closed"]
    ]
    for setup, phase in flagged:
        print(f"FLAGGED {setup} {phase}: dropped, unexpected, write errors or closed sockets")
    print(f"results: {path}")
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main())

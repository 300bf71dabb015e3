"""Micro benchmark: what one request's `hit` costs in each rate-limit counter store.

    .venv/bin/python bench/rate_counters.py [--seconds 1.0] [--keys 2] [--distinct 10000]

Times `hit` with `--keys` counters a request (address and user: 2) over `--distinct` keys, in
this process: the in-process dict, the file table that the workers of one `minibase serve`
share (an uncontended lock), and with `--contended`, the file table while a second process
hits the same file as fast as it can (on a 2-core machine: both cores busy).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import tempfile
import time
from pathlib import Path

from minibase.auth.file_counters import FileCounterStore
from minibase.auth.rate_limits import CounterStore, MemoryCounterStore


async def time_hits(name: str, store: CounterStore, args: argparse.Namespace) -> None:
    keys = [
        [(f"rate:g:address:{n}-{k}", 60) for k in range(args.keys)] for n in range(args.distinct)
    ]
    now = time.time()
    ops, started = 0, time.perf_counter()
    deadline = started + args.seconds
    while time.perf_counter() < deadline:
        for request in keys[ops % args.distinct :][:1000]:  # a clock read a thousand hits
            await store.hit(request, now)
            ops += 1
    spent = time.perf_counter() - started
    print(f"  {name:<40} {spent / ops * 1e6:>7.2f} us/hit {ops / spent:>11,.0f} hits/s")


def hammer(path: Path, stop: multiprocessing.synchronize.Event) -> None:
    async def run() -> None:
        store = FileCounterStore(path)
        n = 0
        while not stop.is_set():
            await store.hit([(f"other-{n % 1000}", 60)], time.time())
            n += 1
        await store.close()

    asyncio.run(run())


async def main(args: argparse.Namespace) -> None:
    print(f"hit of {args.keys} keys over {args.distinct:,} distinct keys:")
    await time_hits("memory (one process)", MemoryCounterStore(), args)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rate-limits"
        store = FileCounterStore(path)
        await time_hits("file table", store, args)
        if args.contended:
            stop = multiprocessing.Event()
            other = multiprocessing.Process(target=hammer, args=(path, stop))
            other.start()
            await asyncio.sleep(0.3)  # it has opened the table
            await time_hits("file table, another process hitting", store, args)
            stop.set()
            other.join()
        await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--keys", type=int, default=2)
    parser.add_argument("--distinct", type=int, default=10_000)
    parser.add_argument("--contended", action="store_true")
    asyncio.run(main(parser.parse_args()))

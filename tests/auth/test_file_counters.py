"""The rate-limit counters that the workers of one `minibase serve` share without Redis: a table
in a file that each opens. Counts add up across every store opened on the file, in one process
or in several at once (none lost); ended windows free their slots; a full neighbourhood evicts
the key whose window ends first; a file that is not a table (short, foreign, cut while in use)
is made anew with a warning, never an error on a request."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from minibase.auth.file_counters import HEADER, PROBE, SLOT, FileCounterStore
from minibase.auth.throttle import Counted

NOW = 1_767_225_600.25


@pytest.fixture
def table(tmp_path: Path) -> Path:
    return tmp_path / "rate-limits"


async def test_two_stores_on_one_file_count_together(table: Path) -> None:
    first, second = FileCounterStore(table), FileCounterStore(table)  # two workers
    try:
        assert await first.hit([("a", 60), ("b", 1)], NOW) == [
            Counted(1, NOW + 60),
            Counted(1, NOW + 1),
        ]
        assert await second.hit([("a", 60), ("b", 1)], NOW + 0.5) == [
            Counted(2, NOW + 60),
            Counted(2, NOW + 1),
        ]
        assert await first.hit([("b", 1), ("a", 60)], NOW + 1) == [
            Counted(1, NOW + 2),  # b's window ended: a new one
            Counted(3, NOW + 60),
        ]
        assert await second.hit([("a", 60)], NOW + 60) == [Counted(1, NOW + 120)]
    finally:
        await first.close()
        await second.close()


async def test_a_worker_that_opens_the_file_later_keeps_the_counts(table: Path) -> None:
    first = FileCounterStore(table)
    await first.hit([("a", 60)], NOW)
    later = FileCounterStore(table)
    assert await later.hit([("a", 60)], NOW + 1) == [Counted(2, NOW + 60)]
    await first.close()
    await later.close()


async def test_a_full_neighbourhood_evicts_the_key_whose_window_ends_first(
    table: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileCounterStore(table, slots=PROBE)  # one neighbourhood: every key shares it
    try:
        for n in range(PROBE):  # key-0's window ends first
            await store.hit([(f"key-{n}", 100 + n), (f"key-{n}", 100 + n)], NOW)
        assert store.evictions == 0
        assert await store.hit([("newcomer", 600)], NOW + 1) == [Counted(1, NOW + 601)]
        assert store.evictions == 1
        assert "is full" in caplog.text
        assert await store.hit([("key-1", 101)], NOW + 2) == [Counted(3, NOW + 101)]  # kept
        # the evicted key starts a new window (and evicts the next to end: key-1)
        assert await store.hit([("key-0", 100)], NOW + 2) == [Counted(1, NOW + 102)]
        assert store.evictions == 2
        assert await store.hit([("newcomer", 600)], NOW + 3) == [Counted(2, NOW + 601)]
        assert await store.hit([("key-1", 101)], NOW + 3) == [Counted(1, NOW + 104)]
    finally:
        await store.close()


async def test_an_ended_window_frees_its_slot_before_any_key_is_evicted(table: Path) -> None:
    store = FileCounterStore(table, slots=PROBE)
    try:
        await store.hit([(f"key-{n}", 1 if n == 7 else 60) for n in range(PROBE)], NOW)
        assert await store.hit([("newcomer", 60)], NOW + 1) == [Counted(1, NOW + 61)]
        assert store.evictions == 0  # key-7's window had ended: its slot was free
        assert await store.hit([(f"key-{n}", 60) for n in range(PROBE) if n != 7], NOW + 2) == [
            Counted(2, NOW + 60)
        ] * (PROBE - 1)
    finally:
        await store.close()


@pytest.mark.parametrize(
    "content",
    [
        b"not a table",  # short
        b"\xff" * (HEADER.size + PROBE * SLOT.size),  # the right size, no header
        HEADER.pack(b"minibase-rate-limits-v1\0", 2 * PROBE) + bytes(2 * PROBE * SLOT.size),
    ],
    ids=["short", "foreign", "other-size"],
)
async def test_a_file_that_is_not_a_table_is_made_anew_with_a_warning(
    table: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    await asyncio.to_thread(table.write_bytes, content)
    store = FileCounterStore(table, slots=PROBE)
    try:
        assert await store.hit([("a", 60)], NOW) == [Counted(1, NOW + 60)]
        assert os.stat(table).st_size == HEADER.size + PROBE * SLOT.size
        assert "made anew" in caplog.text
    finally:
        await store.close()


async def test_a_table_cut_or_overwritten_while_in_use_is_made_anew_on_the_next_hit(
    table: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileCounterStore(table)
    try:
        await store.hit([("a", 60)], NOW)
        os.truncate(table, 100)  # a mapped page past the end would kill the process (SIGBUS)
        assert await store.hit([("a", 60)], NOW + 1) == [Counted(1, NOW + 61)]
        assert await store.hit([("a", 60)], NOW + 2) == [Counted(2, NOW + 61)]
        await asyncio.to_thread(overwrite, table, b"garbage")
        assert await store.hit([("a", 60)], NOW + 3) == [Counted(1, NOW + 63)]
        assert caplog.text.count("made anew") == 2
    finally:
        await store.close()


def overwrite(path: Path, start: bytes) -> None:
    with path.open("r+b") as raw:
        raw.write(start)


HITTER = """
import asyncio, json, sys, time
from pathlib import Path
from minibase.auth.file_counters import FileCounterStore

async def main(path, hits, ready, go):
    store = FileCounterStore(Path(path))
    Path(ready).touch()
    while not Path(go).exists():  # both processes start hitting together
        time.sleep(0.001)
    counts = []
    for _ in range(hits):
        counted = await store.hit([("a", 3600), ("b", 3600)], 1767225600.0)
        counts.append(counted[0].failures)
    await store.close()
    print(json.dumps(counts))

asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]))
"""


async def test_two_processes_hitting_one_file_at_once_lose_no_count(
    table: Path, tmp_path: Path
) -> None:
    hits, go = 5000, tmp_path / "go"
    ready = [tmp_path / f"ready-{n}" for n in range(2)]
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            HITTER,
            str(table),
            str(hits),
            str(ready[n]),
            str(go),
            stdout=asyncio.subprocess.PIPE,
        )
        for n in range(2)
    ]
    while not all(path.exists() for path in ready):
        assert all(process.returncode is None for process in processes)
        await asyncio.sleep(0.01)
    go.touch()
    outputs = [(await process.communicate())[0] for process in processes]
    assert [process.returncode for process in processes] == [0, 0]
    first, second = (json.loads(output) for output in outputs)
    assert max(first) > min(second), "not at once: retry"
    assert max(second) > min(first), "not at once: retry"
    # every hit got its own count: no two read the same one, none went missing
    assert sorted(first + second) == list(range(1, 2 * hits + 1))
    store = FileCounterStore(table)
    assert (
        await store.hit([("a", 3600), ("b", 3600)], 1767225600.0)
        == [Counted(2 * hits + 1, 1767225600.0 + 3600)] * 2
    )
    await store.close()


async def test_keys_are_stored_as_digests_only_in_a_private_file(table: Path) -> None:
    store = FileCounterStore(table, slots=PROBE)
    await store.hit([("rate:auth:address:a-secret-address", 60)], NOW)
    await store.close()
    assert b"a-secret-address" not in await asyncio.to_thread(table.read_bytes)
    assert os.stat(table).st_mode & 0o077 == 0

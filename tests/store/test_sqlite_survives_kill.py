"""A process killed (SIGKILL) in the middle of writing leaves the embedded database consistent:
every committed write is there, every half-done one is not, and SQLite's integrity check passes.
With writers in parallel too, whose transactions commit together (group commit): each one
answered was in a COMMIT that made it to the file, and none is there in part."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

WRITER = r"""
import asyncio, sys
from pathlib import Path
from minibase.auth.caller import Caller
from minibase.config import Settings
from minibase.data.definitions import create_collection
from minibase.data.records import create_records
from minibase.services import open_services

async def main(data_dir: str, start: int, writers: int) -> None:
    key = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U="
    settings = Settings(data_dir=Path(data_dir), master_key=key)
    services = await open_services(settings)
    admin = Caller(kind="admin", id="admin")
    if services.collections.find("ledger") is None:
        await create_collection(services, {"name": "ledger", "fields": {
            "batch": {"type": "integer"}, "line": {"type": "integer"}, "note": {"type": "string"}}})

    async def write(batch: int) -> None:
        while True:
            records = [{"batch": batch, "line": i, "note": "x" * 500} for i in range(25)]
            await create_records(services, admin, "ledger", records)
            print(batch, flush=True)  # answered: its COMMIT succeeded
            batch += writers

    await asyncio.gather(*(write(start + w) for w in range(writers)))

asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
"""


def _kill_while_writing(
    data_dir: Path, start: int, committed_at_least: int, writers: int
) -> set[int]:
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data_dir), str(start), str(writers)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    committed: set[int] = set()
    deadline = time.monotonic() + 60
    while len(committed) < committed_at_least and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        committed.add(int(line))
    time.sleep(0.003 * (start % 7))  # land the kill at different points of a write
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert len(committed) >= committed_at_least, "the writer did not get going"
    return committed


@pytest.mark.parametrize("writers", [1, 8])
def test_sigkill_mid_write_loses_no_committed_batch_and_leaves_no_partial_one(
    tmp_path: Path, writers: int
) -> None:
    committed: set[int] = set()
    for round_number in range(4):
        committed |= _kill_while_writing(
            tmp_path, round_number * 1000, committed_at_least=15, writers=writers
        )

        conn = sqlite3.connect(tmp_path / "data.db")
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            table = conn.execute("SELECT id FROM collections WHERE name = 'ledger'").fetchone()[0]
            rows = conn.execute(
                f"SELECT json_extract(data, '$.batch') FROM \"c_{table}\""
            ).fetchall()
        finally:
            conn.close()
        sizes = Counter(row[0] for row in rows)
        assert committed <= set(sizes), "a batch reported as committed is missing"
        assert set(sizes.values()) == {25}, "a batch was written in part"

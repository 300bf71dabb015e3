"""A backup taken while another process keeps writing is the database at one moment: restored,
it holds every batch of records acknowledged before the backup started, and each batch whole
or not at all (a batch is one transaction)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tests.backups.conftest import KEY, Writer
from tests.cli.cli_process import Cli

BATCH = 25


def _batches(database: Path) -> Counter[int]:
    conn = sqlite3.connect(database)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        table = conn.execute("SELECT id FROM collections WHERE name = 'ledger'").fetchone()[0]
        rows = conn.execute(f"SELECT json_extract(data, '$.batch') FROM \"c_{table}\"").fetchall()
    finally:
        conn.close()
    return Counter(row[0] for row in rows)


def test_a_backup_under_writes_restores_every_acknowledged_record_and_no_half_batch(
    cli: Cli, writer: Callable[[], Writer]
) -> None:
    key = {"MINIBASE_MASTER_KEY": KEY}
    running = writer()
    before = running.wait_for(20)  # acknowledged before the backup started
    backup = cli.run("backup", "--to", "backups", "--data-dir", "data", env=key)
    assert backup.returncode == 0, backup.stderr
    during = running.acknowledged() - before
    assert during, "the writer wrote nothing while the backup ran: no load to test"
    running.wait_for(len(before) + len(during) + 5)  # and it carries on after
    running.stop()
    where = next(
        line.removeprefix("backup written: ")
        for line in backup.stdout.splitlines()
        if line.startswith("backup written: ")
    )

    restore = cli.run("restore", where, "--data-dir", "restored", env=key)
    assert restore.returncode == 0, restore.stderr
    restored = _batches(cli.workdir / "restored" / "data.db")
    assert before <= set(restored)  # every acknowledged batch
    assert set(restored.values()) == {BATCH}  # and none in part
    # the backup is one moment: what it holds is every batch up to some point, not a patchwork
    assert sorted(restored) == list(range(len(restored)))
    assert len(restored) < len(_batches(cli.data_dir / "data.db"))  # later writes are not in it

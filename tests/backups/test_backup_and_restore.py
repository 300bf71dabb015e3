"""`minibase backup` and `minibase restore` as users run them: one checked file that brings an
installation back in an empty folder (database, master key, local files), written so that a
failure leaves no file that looks like a backup, sent to S3 and fetched back, refused over the
database of a running server unless forced, and loud about a master key it does not hold."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
from tests.backups.conftest import KEY, PASSWORD, Server, s3_settings
from tests.cli.cli_process import Cli
from tests.files.s3_server import MotoS3

from minibase.backups.archive import BACKUP_NAME
from minibase.files.local import LocalStorage
from minibase.store.migrations import MIGRATIONS

PHOTO = b"\x89PNG\r\n\x1a\n a photo"


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _store_photo(root: Path) -> None:
    await LocalStorage(root).put(
        "posts/r1/photo", _one(PHOTO), content_type="image/png", max_size=1 << 20
    )


async def _read_photo(root: Path) -> tuple[str, bytes]:
    info, body = await LocalStorage(root).open("posts/r1/photo")
    async with body:
        return info.content_type, b"".join([chunk async for chunk in body])


def _installation(cli: Cli, **env: str) -> None:
    """A data directory with an admin in its database and a photo in its local storage."""
    made = cli.run(
        "admin", "create", "ops@example.com", "--create", "--data-dir", "data", env=PASSWORD | env
    )
    assert made.returncode == 0, made.stderr
    asyncio.run(_store_photo(cli.data_dir / "files"))


def _admins(database: Path) -> list[str]:
    conn = sqlite3.connect(database)
    try:
        return [row[0] for row in conn.execute("SELECT email FROM admins ORDER BY email")]
    finally:
        conn.close()


def _written(stdout: str) -> str:
    """The backup's place, from `backup written: <where>`."""
    line = next(line for line in stdout.splitlines() if line.startswith("backup written: "))
    return line.removeprefix("backup written: ")


def test_a_backup_restored_into_an_empty_folder_brings_back_database_master_key_and_files(
    cli: Cli,
) -> None:
    _installation(cli)
    backup = cli.run("backup", "--to", "backups", "--data-dir", "data")
    assert backup.returncode == 0, backup.stderr
    where = Path(_written(backup.stdout))
    assert where.parent == Path("backups")
    assert BACKUP_NAME.fullmatch(where.name)
    assert f"schema version {MIGRATIONS[-1].version}" in backup.stdout
    assert "integrity_check ok" in backup.stdout
    assert "files: 1 of local storage" in backup.stdout
    assert "master key: IN THIS BACKUP" in backup.stdout
    assert os.listdir(cli.workdir / "backups") == [where.name]  # no temporary file left beside it

    restore = cli.run("restore", str(where), "--data-dir", "restored")
    assert restore.returncode == 0, restore.stderr
    restored = cli.workdir / "restored"
    assert _admins(restored / "data.db") == ["ops@example.com"]
    key = (restored / "master.key").read_text()
    assert key == (cli.data_dir / "master.key").read_text()
    assert asyncio.run(_read_photo(restored / "files")) == ("image/png", PHOTO)
    assert (restored / "data.db").stat().st_mode & 0o777 == 0o600
    # the restored folder is an installation minibase takes as it is
    again = cli.run("admin", "create", "second@example.com", "--data-dir", "restored", env=PASSWORD)
    assert again.returncode == 0, again.stderr
    assert _admins(restored / "data.db") == ["ops@example.com", "second@example.com"]


def test_restore_replaces_what_the_data_directory_held_and_keeps_a_different_key_aside(
    cli: Cli,
) -> None:
    _installation(cli)
    backup = cli.run("backup", "--to", "backups/first.tar", "--data-dir", "data")
    assert backup.returncode == 0, backup.stderr
    assert _written(backup.stdout) == "backups/first.tar"
    other = cli.run(
        "admin", "create", "other@example.com", "--create", "--data-dir", "other", env=PASSWORD
    )
    assert other.returncode == 0, other.stderr
    other_key = (cli.workdir / "other" / "master.key").read_text()

    restore = cli.run("restore", "backups/first.tar", "--data-dir", "other")
    assert restore.returncode == 0, restore.stderr
    assert _admins(cli.workdir / "other" / "data.db") == ["ops@example.com"]
    assert (cli.workdir / "other" / "master.key").read_text() == (
        cli.data_dir / "master.key"
    ).read_text()
    kept = list((cli.workdir / "other").glob("master.key.before-restore-*"))
    assert [path.read_text() for path in kept] == [other_key]
    assert "the other key that was there is kept at" in restore.stdout


def test_a_database_that_fails_its_check_leaves_no_backup_file(cli: Cli) -> None:
    _installation(cli)
    database = cli.data_dir / "data.db"
    assert not database.with_name("data.db-wal").exists()  # every page is in the file
    with database.open("r+b") as damaged:  # tables' pages overwritten with noise
        damaged.seek(4096)
        damaged.write(b"\xa5" * 4096 * 8)
    backup = cli.run("backup", "--to", "backups", "--data-dir", "data")
    assert backup.returncode == 2
    assert backup.stderr.startswith("minibase: ")
    assert "database" in backup.stderr
    assert os.listdir(cli.workdir / "backups") == []


def test_a_backup_without_a_data_directory_says_where_it_looked(cli: Cli) -> None:
    backup = cli.run("backup", "--data-dir", "nowhere")
    assert backup.returncode == 2
    assert "no database at" in backup.stderr
    assert "nowhere" in backup.stderr
    assert not (cli.workdir / "backups").exists()


def test_restore_refuses_the_database_of_a_running_server_unless_forced(
    cli: Cli, server: Callable[[], Server]
) -> None:
    _installation(cli)
    running = server()
    backup = cli.run("backup", "--to", "backups", "--data-dir", "data")  # while it serves
    assert backup.returncode == 0, backup.stderr
    where = _written(backup.stdout)

    refused = cli.run("restore", where, "--data-dir", "data")
    assert refused.returncode == 2
    assert "open in a running minibase" in refused.stderr
    assert "--force" in refused.stderr

    forced = cli.run("restore", where, "--data-dir", "data", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "restart the server" in forced.stdout
    assert httpx.get(f"{running.url}/api/health", timeout=5).status_code == 200

    running.stop()
    after = cli.run("restore", where, "--data-dir", "data")  # stopped: no --force needed
    assert after.returncode == 0, after.stderr
    assert _admins(cli.data_dir / "data.db") == ["ops@example.com"]


def test_a_backup_without_the_master_key_says_so_loudly_and_so_does_its_restore(
    cli: Cli,
) -> None:
    key = {"MINIBASE_MASTER_KEY": KEY}
    _installation(cli, **key)
    assert not (cli.data_dir / "master.key").exists()
    backup = cli.run("backup", "--to", "backups", "--data-dir", "data", env=key)
    assert backup.returncode == 0, backup.stderr
    assert "WARNING: this backup does NOT hold the master key" in backup.stderr
    restore = cli.run("restore", _written(backup.stdout), "--data-dir", "restored", env=key)
    assert restore.returncode == 0, restore.stderr
    assert "WARNING: this backup holds no master key" in restore.stderr
    assert not (cli.workdir / "restored" / "master.key").exists()
    assert _admins(cli.workdir / "restored" / "data.db") == ["ops@example.com"]


def test_a_master_key_setting_that_is_not_the_backups_key_is_pointed_out(cli: Cli) -> None:
    _installation(cli)
    backup = cli.run("backup", "--to", "backups", "--data-dir", "data")
    assert backup.returncode == 0, backup.stderr
    restore = cli.run(
        "restore",
        _written(backup.stdout),
        "--data-dir",
        "restored",
        env={"MINIBASE_MASTER_KEY": KEY},
    )
    assert restore.returncode == 0, restore.stderr
    assert "WARNING: MINIBASE_MASTER_KEY is set and is not the backup's key" in restore.stderr


def test_a_backup_sent_to_s3_is_restored_from_s3(cli: Cli, moto_s3: MotoS3) -> None:
    _installation(cli)
    bucket = moto_s3.create_bucket()
    s3 = s3_settings(moto_s3)
    backup = cli.run("backup", "--to", f"s3://{bucket}/nightly", "--data-dir", "data", env=s3)
    assert backup.returncode == 0, backup.stderr
    where = _written(backup.stdout)
    prefix = f"s3://{bucket}/nightly/"
    assert where.startswith(prefix)
    assert BACKUP_NAME.fullmatch(where.removeprefix(prefix))
    assert moto_s3.pending_uploads(bucket) == []

    restore = cli.run("restore", where, "--data-dir", "restored", env=s3)
    assert restore.returncode == 0, restore.stderr
    restored = cli.workdir / "restored"
    assert _admins(restored / "data.db") == ["ops@example.com"]
    assert (restored / "master.key").read_text() == (cli.data_dir / "master.key").read_text()
    assert asyncio.run(_read_photo(restored / "files")) == ("image/png", PHOTO)


def test_an_s3_destination_without_s3_settings_is_refused_before_any_work(cli: Cli) -> None:
    _installation(cli)
    backup = cli.run("backup", "--to", "s3://a-bucket/nightly", "--data-dir", "data")
    assert backup.returncode == 2
    assert "s3_endpoint" in backup.stderr

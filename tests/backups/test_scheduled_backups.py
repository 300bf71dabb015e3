"""Scheduled backups (`backup_schedule`, `backup_to`, `backup_keep`): one backup per occurrence
however many processes schedule it, and only the newest `backup_keep` backups stay (files
minibase did not name are left alone), in a folder or under an S3 prefix. On PostgreSQL the
setting is refused: pg_dump it is."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from tests.backups.conftest import KEY
from tests.files.s3_server import MotoS3
from tests.functions.conftest import run_jobs

from minibase.backups.archive import BACKUP_NAME, backup_name
from minibase.backups.backup import BACKUP_JOB, take_backup
from minibase.clock import FrozenClock
from minibase.config import ConfigError, Settings, load_settings
from minibase.services import Services, open_services


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        master_key=KEY,
        functions_dir=tmp_path / "functions",
        backup_schedule="0 3 * * *",
        backup_to=str(tmp_path / "backups"),
        backup_keep=2,
    )


async def _backup_jobs(services: Services) -> list[tuple[str, str]]:
    rows = await services.db.fetch_all("SELECT key, state FROM jobs WHERE name = ?", BACKUP_JOB)
    return [(row[0], row[1]) for row in rows]


async def test_two_processes_take_one_backup_per_occurrence_and_keep_the_newest(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path)
    clock = FrozenClock(datetime(2026, 11, 24, 2, 50, tzinfo=UTC))
    first = await open_services(settings, clock=clock)
    second = await open_services(settings, clock=clock)
    try:
        older = []
        for day in (21, 22, 23):
            moment = datetime(2026, 11, day, 3, tzinfo=UTC)
            older.append((await take_backup(settings, settings.backup_to, moment)).where)
        (tmp_path / "backups" / "notes.txt").write_text("not a backup: left alone")

        await first.functions.enqueue_due()
        assert await _backup_jobs(first) == []  # 03:00 is not due yet
        clock.set(datetime(2026, 11, 24, 3, 0, 30, tzinfo=UTC))
        await first.functions.enqueue_due()
        await second.functions.enqueue_due()
        at = "2026-11-24T03:00:00.000000Z"
        assert await _backup_jobs(first) == [(f"{BACKUP_JOB}:{at}", "queued")]

        await run_jobs(first)
        assert await _backup_jobs(first) == [(f"{BACKUP_JOB}:{at}", "succeeded")]
        kept = sorted(os.listdir(tmp_path / "backups"))
        newest = backup_name(clock.now())
        assert kept == sorted([Path(older[-1]).name, newest, "notes.txt"])
        assert all(BACKUP_NAME.fullmatch(name) for name in kept if name != "notes.txt")
    finally:
        await second.close()
        await first.close()


def test_a_backup_schedule_must_be_cron() -> None:
    with pytest.raises(ConfigError, match="backup_schedule"):
        load_settings(environ={"MINIBASE_BACKUP_SCHEDULE": "every night"})


def test_a_backup_schedule_on_postgresql_points_at_pg_dump() -> None:
    with pytest.raises(ConfigError, match="pg_dump"):
        load_settings(
            environ={
                "MINIBASE_BACKUP_SCHEDULE": "@daily",
                "MINIBASE_DATABASE_URL": "postgresql://minibase@127.0.0.1/minibase",
            }
        )


def test_backup_keep_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="backup_keep"):
        load_settings(environ={"MINIBASE_BACKUP_KEEP": "0"})


async def test_retention_under_an_s3_prefix_keeps_the_newest_and_nothing_else_is_touched(
    tmp_path: Path, moto_s3: MotoS3
) -> None:
    bucket = moto_s3.create_bucket()
    credentials = moto_s3.credentials
    settings = Settings(
        data_dir=tmp_path / "data",
        master_key=KEY,
        functions_dir=tmp_path / "functions",
        s3_endpoint=moto_s3.url,
        s3_access_key=credentials.access_key,
        s3_secret_key=credentials.secret_key,
        s3_region=credentials.region,
    )
    await (await open_services(settings)).close()  # a migrated database
    storage = moto_s3.storage(bucket)
    try:
        await storage.put("nightly/notes.txt", _one(b"mine"), content_type="text/plain", max_size=9)
        to = f"s3://{bucket}/nightly"
        made = []
        for day in (21, 22, 23):
            moment = datetime(2026, 11, day, 3, tzinfo=UTC)
            taken = await take_backup(settings, to, moment, keep=2)
            made.append(taken.where.removeprefix(f"s3://{bucket}/"))
        assert taken.removed == (backup_name(datetime(2026, 11, 21, 3, tzinfo=UTC)),)
        kept = sorted([key async for key in storage.list("nightly/")])
        assert kept == sorted([*made[1:], "nightly/notes.txt"])
    finally:
        await storage.aclose()


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data

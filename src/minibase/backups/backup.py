"""A backup taken and sent where it goes, a backup fetched and restored, and the scheduled backup
job with its retention (`backup_schedule`, `backup_to`, `backup_keep`).

    taken = await take_backup(settings, "s3://bucket/nightly", clock.now())
    restored = await restore_from(settings, "backups/minibase-backup-...tar", force=False)

The job is enqueued once per occurrence of `backup_schedule` by the scheduler (functions.runtime)
under a key, so one backup runs however many processes schedule it.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from minibase.backups.archive import BackupError, Manifest, backup_name, write_archive
from minibase.backups.destinations import Destination, Folder, destination_for
from minibase.backups.restore import Restored, restore_archive
from minibase.config import Settings

log = logging.getLogger("minibase.backups")
BACKUP_JOB = "minibase.backup"


@dataclass(frozen=True)
class Taken:
    where: str
    manifest: Manifest
    removed: tuple[str, ...] = ()  # older backups retention deleted


def _sqlite_only(settings: Settings, command: str, tool: str) -> None:
    if not settings.uses_sqlite:
        raise BackupError(
            f"minibase {command} works on the embedded SQLite database; for PostgreSQL use"
            f" {tool} (docs/backups.md)"
        )


async def take_backup(
    settings: Settings, to: str, now: datetime, *, keep: int | None = None
) -> Taken:
    """A new backup at `to`; with keep, only the newest `keep` backups there stay."""
    _sqlite_only(settings, "backup", "pg_dump")
    destination = destination_for(to, settings)
    try:
        name = destination.name or backup_name(now)
        if isinstance(destination, Folder):
            manifest = await asyncio.to_thread(write_archive, settings, destination.path, name, now)
        else:
            manifest = await _through_temporary_folder(settings, destination, name, now)
        removed = await keep_newest(destination, keep) if keep else ()
        return Taken(destination.describe(name), manifest, removed)
    finally:
        await destination.aclose()


async def _through_temporary_folder(
    settings: Settings, destination: Destination, name: str, now: datetime
) -> Manifest:
    folder = Path(tempfile.mkdtemp(prefix="minibase-backup-"))
    try:
        manifest = await asyncio.to_thread(write_archive, settings, folder, name, now)
        await destination.save(folder / name, name)
        return manifest
    finally:
        await asyncio.to_thread(shutil.rmtree, folder, True)


async def keep_newest(destination: Destination, keep: int) -> tuple[str, ...]:
    """Delete all but the newest `keep` backups minibase named there; what went."""
    names = await destination.names()
    old = names[: max(len(names) - keep, 0)]
    for name in old:
        await destination.delete(name)
    return tuple(old)


async def restore_from(settings: Settings, source: str, *, force: bool) -> Restored:
    """Fetch the backup file `source` (a path or s3://bucket/key.tar) and restore it."""
    _sqlite_only(settings, "restore", "pg_restore")
    destination = destination_for(source, settings)
    if destination.name is None:
        raise BackupError(f"{source}: name a backup file (…/minibase-backup-<time>.tar)")
    folder = Path(tempfile.mkdtemp(prefix="minibase-restore-"))
    try:
        archive = await destination.fetch(destination.name, folder)
        return await asyncio.to_thread(restore_archive, settings, archive, force=force)
    finally:
        await destination.aclose()
        await asyncio.to_thread(shutil.rmtree, folder, True)


async def run_scheduled_backup(settings: Settings, now: datetime) -> Taken:
    """The job: a backup to backup_to, then retention (backup_keep)."""
    taken = await take_backup(settings, settings.backup_to, now, keep=settings.backup_keep)
    log.info(
        "backup written: %s (schema version %d%s); %d older removed",
        taken.where,
        taken.manifest.schema_version,
        "" if taken.manifest.master_key else ", WITHOUT the master key",
        len(taken.removed),
    )
    return taken

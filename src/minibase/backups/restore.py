"""Putting a backup back into a data directory: its database, its master key, its local files.

The database is written with SQLite's backup API into the database file (not a file renamed over
it), so the file's own -wal and -shm never meet a database they do not belong to. A database
another process has open (a `minibase serve` or `minibase worker`) is refused unless forced.
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from minibase.backups.archive import (
    DATABASE,
    FILES,
    MASTER_KEY,
    BackupError,
    Manifest,
    read_archive,
    read_only_uri,
)
from minibase.config import Settings
from minibase.private_files import DIRECTORY_MODE, FILE_MODE, make_private_dir
from minibase.store.migrations import MIGRATIONS

# Every connection to a WAL database holds a read lock on this byte of its -shm file for as long
# as it is open (SQLite's "DMS" lock, os_unix.c: UNIX_SHM_DMS), whether or not it is busy.
_SHM_DMS_BYTE = 128


@dataclass(frozen=True)
class Restored:
    manifest: Manifest
    database: Path
    # "restored", "unchanged" (the same key was there), "absent" (the backup holds none)
    master_key: str
    previous_key: Path | None  # where a different key that was there now is
    key_overridden: bool  # MINIBASE_MASTER_KEY is set and is not the backup's key
    files: str  # "restored", "in_bucket" (S3: not in backups), "not_used" (this one uses S3)


def database_in_use(path: Path) -> bool:
    """Whether another process has the SQLite database at path open.

    Asks for a write lock on the byte every open connection holds a read lock on. POSIX locks
    never conflict within one process, and closing any descriptor of a file drops this process's
    locks on it: call it before this process opens the database, as `minibase restore` does."""
    shm = path.with_name(path.name + "-shm")
    try:
        descriptor = os.open(shm, os.O_RDWR)
    except FileNotFoundError:  # removed by the last connection to close
        return False
    try:
        try:
            fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, _SHM_DMS_BYTE)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                return True
            raise
        fcntl.lockf(descriptor, fcntl.LOCK_UN, 1, _SHM_DMS_BYTE)
        return False
    finally:
        os.close(descriptor)


def restore_archive(settings: Settings, archive: Path, *, force: bool) -> Restored:
    """Put the backup file archive into the installation settings describe. Blocking: run it on
    a thread."""
    target = settings.sqlite_path
    if not force and database_in_use(target):
        raise BackupError(
            f"{target.absolute()} is open in a running minibase (serve or worker): stop it, then"
            " restore (--force restores into it anyway; what the running server holds in memory"
            " is then out of date: restart it)"
        )
    make_private_dir(settings.data_dir)
    make_private_dir(target.parent)
    work = Path(tempfile.mkdtemp(prefix=".minibase-restore-", dir=settings.data_dir))
    try:
        manifest = read_archive(archive, work)
        newest = MIGRATIONS[-1].version
        if manifest.schema_version > newest:
            raise BackupError(
                f"the backup's database is at schema version {manifest.schema_version}; this"
                f" minibase knows up to {newest}: restore it with the minibase that made it"
                f" ({manifest.minibase_version}) or a newer one"
            )
        copy_database(work / DATABASE, target)
        key, previous = _restore_key(settings, work, manifest)
        overridden = manifest.master_key and _key_overridden(settings, work)
        files = _restore_files(settings, work, manifest)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Restored(manifest, target, key, previous, overridden, files)


def copy_database(source: Path, target: Path) -> None:
    """Every page of source into target (created if missing), in one write transaction."""
    reader = sqlite3.connect(read_only_uri(source), uri=True)
    try:
        writer = sqlite3.connect(target, timeout=30)
        try:
            reader.backup(writer, pages=-1)
        finally:
            writer.close()
    finally:
        reader.close()
    os.chmod(target, FILE_MODE)


def _restore_key(settings: Settings, work: Path, manifest: Manifest) -> tuple[str, Path | None]:
    if not manifest.master_key:
        return "absent", None
    text = (work / MASTER_KEY).read_text().strip()
    path = settings.data_dir / MASTER_KEY
    if path.is_file() and path.read_text().strip() == text:
        return "unchanged", None
    previous = None
    if path.exists():  # another key: kept, never lost (it may open another backup)
        previous = path.with_name(f"{MASTER_KEY}.before-restore-{secrets.token_hex(4)}")
        os.replace(path, previous)
    temp = path.with_name(f".{MASTER_KEY}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)
    return "restored", previous


def _key_overridden(settings: Settings, work: Path) -> bool:
    """MINIBASE_MASTER_KEY wins over master.key: a different one cannot open the backup's
    secrets."""
    configured = settings.master_key
    return bool(configured) and configured != (work / MASTER_KEY).read_text().strip()


def _restore_files(settings: Settings, work: Path, manifest: Manifest) -> str:
    if manifest.files_storage != "local":
        return "in_bucket"
    if settings.s3_bucket:
        return "not_used"
    unpacked = work / FILES
    if not unpacked.is_dir():
        unpacked.mkdir(mode=DIRECTORY_MODE)
    for folder in (unpacked, *(p for p in unpacked.rglob("*") if p.is_dir())):
        folder.chmod(DIRECTORY_MODE)
    current = settings.data_dir / FILES
    aside = work / "files-before-restore"
    if current.exists():
        os.replace(current, aside)  # removed with the work folder
    os.replace(unpacked, current)
    return "restored"

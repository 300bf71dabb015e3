"""Making and reading one backup file (see the package's docstring for what it holds).

The file is written under a dot-name in its folder, flushed to disk, then renamed onto its own
name: a crash never leaves a half file that looks like a backup. Its database is checked before
the file is written, and again when it is read back for a restore.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from minibase import __version__
from minibase.clock import isoformat
from minibase.config import Settings
from minibase.private_files import FILE_MODE, make_private_dir

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE = "data.db"
MASTER_KEY = "master.key"
FILES = "files"
# Backups this package names (and retention may delete): nothing else in a folder is touched.
BACKUP_NAME = re.compile(r"minibase-backup-\d{8}T\d{6}\.\d{3}Z\.tar")


class BackupError(Exception):
    """A backup or a restore that cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Manifest:
    format: int
    created_at: str
    minibase_version: str
    schema_version: int
    database_bytes: int
    master_key: bool  # the archive holds master.key
    files_storage: str  # "local" (the archive holds them) or "s3" (they stay in the bucket)
    files: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: Any) -> Manifest:
        try:
            manifest = cls(**document)
        except TypeError:
            raise BackupError("the backup's manifest.json is not one minibase wrote") from None
        if manifest.format != FORMAT:
            raise BackupError(f"backup format {manifest.format} is not {FORMAT}: a newer minibase?")
        return manifest


def backup_name(moment: datetime) -> str:
    """`minibase-backup-20261207T013600.123Z.tar`: names sort in the order they were made."""
    utc = moment.astimezone(UTC)
    return f"minibase-backup-{utc:%Y%m%dT%H%M%S}.{utc.microsecond // 1000:03d}Z.tar"


def snapshot_database(source: Path, target: Path) -> int:
    """Copy the database at source into the new file target with SQLite's online backup, and
    check the copy; its schema version. Blocking: run it on a thread."""
    _require_database(source)
    reader = sqlite3.connect(source, timeout=30)
    try:
        copy = sqlite3.connect(target)
        try:
            # One step (pages=-1): one read transaction, so the copy is the database at one
            # moment; in WAL mode writers carry on meanwhile. Step by step, each write by another
            # connection would restart the copy.
            reader.backup(copy, pages=-1)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            copy.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"the database at {source} cannot be copied: {exc}") from None
    finally:
        reader.close()
    return verify_database(target)


def verify_database(path: Path) -> int:
    """`PRAGMA integrity_check` says ok, and schema_migrations has a version: return it."""
    conn = sqlite3.connect(read_only_uri(path), uri=True)
    try:
        problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise BackupError(f"the copy of the database is damaged: {'; '.join(problems[:5])}")
        try:
            version = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0]
        except sqlite3.DatabaseError:
            version = None
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path.name} is not a readable SQLite database: {exc}") from None
    finally:
        conn.close()
    if version is None:
        raise BackupError("the database has no schema_migrations: not a minibase database")
    return int(version)


def write_archive(settings: Settings, folder: Path, name: str, now: datetime) -> Manifest:
    """Make `folder/name` from the installation settings describe. Blocking: run it on a thread."""
    _require_database(settings.sqlite_path)
    make_private_dir(folder)
    final = folder / name
    partial = folder / f".{name}.{secrets.token_hex(4)}.partial"
    work = Path(tempfile.mkdtemp(prefix=".minibase-backup-", dir=folder))
    try:
        copy = work / DATABASE
        version = snapshot_database(settings.sqlite_path, copy)
        key = settings.data_dir / MASTER_KEY
        holds_key = settings.master_key is None and key.is_file()
        storage = "s3" if settings.s3_bucket else "local"
        files = [] if storage == "s3" else sorted(_stored_files(settings.data_dir / FILES))
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(descriptor, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w") as tar:
                tar.add(copy, DATABASE)
                if holds_key:
                    tar.add(key, MASTER_KEY)
                added = 0
                for path in files:
                    relative = path.relative_to(settings.data_dir / FILES).as_posix()
                    try:
                        tar.add(path, f"{FILES}/{relative}", recursive=False)
                    except FileNotFoundError:  # removed since it was listed: gone from the data
                        continue
                    added += not path.name.startswith(".")  # objects, not their .meta
                manifest = Manifest(
                    FORMAT,
                    isoformat(now),
                    __version__,
                    version,
                    copy.stat().st_size,
                    holds_key,
                    storage,
                    added,
                )
                document = json.dumps(manifest.to_json(), indent=2).encode()
                _add_bytes(tar, MANIFEST, document)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(partial, final)
        _sync_folder(folder)
        return manifest
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)


def read_archive(archive: Path, into: Path) -> Manifest:
    """Unpack archive into the empty folder `into` and check its database against its
    manifest. Blocking: run it on a thread."""
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(into, filter="data")  # no absolute paths, links out or `..`
    except tarfile.TarError as exc:
        raise BackupError(f"{archive} is not a minibase backup: {exc}") from None
    try:
        document = json.loads((into / MANIFEST).read_bytes())
    except (OSError, ValueError):
        raise BackupError(f"{archive} has no manifest.json: not a minibase backup") from None
    manifest = Manifest.from_json(document)
    version = verify_database(into / DATABASE)
    if version != manifest.schema_version:
        raise BackupError(
            f"the backup's database is at schema version {version}, its manifest says"
            f" {manifest.schema_version}"
        )
    return manifest


def read_only_uri(path: Path) -> str:
    return f"{path.absolute().as_uri()}?mode=ro"


def _require_database(path: Path) -> None:
    if not path.is_file():
        raise BackupError(f"no database at {path.absolute()}")


def _stored_files(root: Path) -> Iterator[Path]:
    """Objects and their .meta files; not the temporary files of uploads being written."""
    if not root.is_dir():
        return
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and not path.name.endswith(".tmp"):
            yield path


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = FILE_MODE
    tar.addfile(info, io.BytesIO(data))


def _sync_folder(folder: Path) -> None:
    """The rename itself survives a power cut once the folder is flushed."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

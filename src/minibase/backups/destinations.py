"""Where backups are kept: a folder, or a prefix of an S3 bucket.

    backups/                     a folder (made if missing); each backup gets its own name
    backups/monday.tar           exactly this file
    s3://bucket/nightly          under a prefix of a bucket, reached with the s3_* settings
    s3://bucket/nightly/x.tar    exactly this object

A backup is made in a local folder first (the destination folder, or a temporary one for S3),
then sent: S3 shows an object only once all of it has arrived, so a partial upload never looks
like a backup either.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from minibase.backups.archive import BACKUP_NAME, BackupError
from minibase.config import Settings
from minibase.files.s3 import S3Storage

CHUNK = 1 << 20
MAX_BACKUP_BYTES = 5 << 40  # S3's largest object
_S3 = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(.*))?")


class Destination(Protocol):
    """A folder or prefix of backups; `name` is the one file it stands for, if it names one."""

    name: str | None

    def describe(self, name: str) -> str: ...

    async def save(self, made: Path, name: str) -> None:
        """Keep the local backup file made under name (it may be moved away)."""
        ...

    async def fetch(self, name: str, into: Path) -> Path:
        """The backup called name as a local file in the folder into."""
        ...

    async def names(self) -> list[str]:
        """The backups held here that minibase named, oldest first."""
        ...

    async def delete(self, name: str) -> None: ...

    async def aclose(self) -> None: ...


@dataclass
class Folder:
    path: Path
    name: str | None = None

    def describe(self, name: str) -> str:
        return str(self.path / name)

    async def save(self, made: Path, name: str) -> None:
        if made != self.path / name:
            await asyncio.to_thread(os.replace, made, self.path / name)

    async def fetch(self, name: str, into: Path) -> Path:
        found = self.path / name
        if not found.is_file():
            raise BackupError(f"no backup at {found}")
        return found

    async def names(self) -> list[str]:
        if not self.path.is_dir():
            return []
        return sorted(p.name for p in self.path.iterdir() if BACKUP_NAME.fullmatch(p.name))

    async def delete(self, name: str) -> None:
        (self.path / name).unlink(missing_ok=True)

    async def aclose(self) -> None:
        return None


class Bucket:
    def __init__(self, storage: S3Storage, url: str, prefix: str, name: str | None) -> None:
        self._storage = storage
        self._url = url
        self._prefix = prefix
        self.name = name

    def describe(self, name: str) -> str:
        return f"{self._url}/{self._key(name)}"

    async def save(self, made: Path, name: str) -> None:
        await self._storage.put(
            self._key(name),
            _chunks_of(made),
            content_type="application/x-tar",
            max_size=MAX_BACKUP_BYTES,
        )

    async def fetch(self, name: str, into: Path) -> Path:
        local = into / (name.rsplit("/", 1)[-1] or "backup.tar")
        _info, body = await self._storage.open(self._key(name))
        async with body:
            with local.open("wb") as out:
                async for chunk in body:
                    await asyncio.to_thread(out.write, chunk)
        return local

    async def names(self) -> list[str]:
        found = []
        async for key in self._storage.list(self._key("")):
            name = key.removeprefix(self._key(""))
            if BACKUP_NAME.fullmatch(name):
                found.append(name)
        return sorted(found)

    async def delete(self, name: str) -> None:
        await self._storage.delete(self._key(name))

    async def aclose(self) -> None:
        await self._storage.aclose()

    def _key(self, name: str) -> str:
        return f"{self._prefix}/{name}" if self._prefix else name


def destination_for(where: str, settings: Settings) -> Destination:
    """The folder or bucket prefix `where` names (a name ending in .tar: that one file)."""
    found = _S3.fullmatch(where)
    if where.startswith("s3://"):
        if found is None:
            raise BackupError(f"{where}: an S3 destination is s3://bucket/prefix")
        return _bucket(settings, found[1], (found[2] or "").strip("/"))
    path = Path(where).expanduser()
    if path.name.endswith(".tar"):
        return Folder(path.parent, path.name)
    return Folder(path)


def _bucket(settings: Settings, bucket: str, path: str) -> Bucket:
    if not (settings.s3_endpoint and settings.s3_access_key and settings.s3_secret_key):
        raise BackupError(
            "an s3:// destination needs the settings s3_endpoint, s3_access_key and"
            " s3_secret_key (MINIBASE_S3_ENDPOINT, ...; docs/files.md)"
        )
    prefix, name = path, None
    if path.endswith(".tar"):
        prefix, _, name = path.rpartition("/")
    storage = S3Storage(
        settings.s3_endpoint,
        bucket,
        settings.s3_access_key,
        settings.s3_secret_key,
        settings.s3_region,
    )
    return Bucket(storage, f"s3://{bucket}", prefix, name)


async def _chunks_of(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as source:
        while chunk := await asyncio.to_thread(source.read, CHUNK):
            yield chunk

"""Where a collection's files live and how they leave: the storage backend the settings choose,
the links that let a file be downloaded, thumbnails made once, deletion as a durable job, and
the garbage collection of what nothing holds.

Objects are named by the server: `<collection id>/<file id>` for the file, and
`<collection id>/<file id>.thumb-200x200-cover` for each thumbnail made of it, so deleting a
file is deleting every object under its name.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import orjson

from minibase.clock import isoformat
from minibase.data.file_refs import FILE_COLUMNS, FileRow, discard_files, refs_of, rows_by_id
from minibase.errors import ApiError
from minibase.files.local import LocalStorage
from minibase.files.s3 import S3Storage
from minibase.files.signed_urls import UrlSigner
from minibase.files.storage import FileStorage, Stored
from minibase.files.thumbnails import ThumbSpec, make_thumbnail
from minibase.jobs.job import Job

if TYPE_CHECKING:
    from minibase.config import Settings
    from minibase.services import Services

log = logging.getLogger("minibase.files")
UPLOADING_GRACE = timedelta(hours=1)  # an upload still `uploading` after this crashed
MAX_THUMB_SOURCE = 40 * 1024 * 1024  # bytes of an image read whole to make a thumbnail
MAX_PRESIGNED_SECONDS = 7 * 24 * 3600  # SigV4's limit
THUMB_WORKERS = 4  # thumbnails made at once (at most one a core)


def storage_for(settings: Settings) -> FileStorage:
    if settings.s3_bucket:  # config checked the endpoint and keys are there too
        return S3Storage(
            settings.s3_endpoint or "",
            settings.s3_bucket,
            settings.s3_access_key or "",
            settings.s3_secret_key or "",
            settings.s3_region,
        )
    return LocalStorage(settings.data_dir / "files")


@dataclass
class GcReport:
    """What `minibase files gc` found (and, unless a dry run, removed)."""

    pending: list[str] = field(default_factory=list)  # uploads no record took in time
    unfinished: list[str] = field(default_factory=list)  # uploads that never finished
    unheld: list[str] = field(default_factory=list)  # attached, but the record does not hold it
    orphans: list[str] = field(default_factory=list)  # objects no file row names

    def to_json(self) -> dict[str, Any]:
        return {
            "pending": len(self.pending),
            "unfinished": len(self.unfinished),
            "unheld": len(self.unheld),
            "orphans": len(self.orphans),
            "files": self.pending + self.unfinished + self.unheld,
            "objects": self.orphans,
        }


class Files:
    def __init__(self, services: Services, storage: FileStorage | None = None) -> None:
        self._services = services
        settings = services.settings
        self.storage = storage if storage is not None else storage_for(settings)
        self.links = UrlSigner(
            services.vault.derive("minibase/file-links/v1"),
            services.clock,
            max_seconds=settings.files_link_max_seconds,
        )
        self._making: dict[str, asyncio.Task[Stored]] = {}
        workers = min(THUMB_WORKERS, os.cpu_count() or 1)
        self._thumb_pool = ThreadPoolExecutor(workers, thread_name_prefix="minibase-thumbs")
        self._thumbs_at_once = asyncio.Semaphore(workers)

    @property
    def direct_uploads(self) -> bool:
        """Can clients upload straight to the storage (presigned S3 forms)?"""
        return isinstance(self.storage, S3Storage)

    @staticmethod
    def object_key(collection_id: str, file_id: str) -> str:
        return f"{collection_id}/{file_id}"

    def base_url(self, request_base: str | None = None) -> str:
        """This server's address as clients (and platforms) reach it."""
        settings = self._services.settings
        return (settings.public_url or request_base or settings.local_url).rstrip("/")

    def link(self, row: FileRow, seconds: int, base: str | None = None) -> tuple[str, int]:
        """A temporary URL of the file, and when it expires (unix seconds)."""
        query = self.links.sign(row.object_key, seconds)
        expires = int(query.split("&", 1)[0].removeprefix("expires="))
        return f"{self.base_url(base)}{file_path(row)}?{query}", expires

    # -- thumbnails -----------------------------------------------------------------------

    async def thumbnail(self, row: FileRow, spec: ThumbSpec) -> Stored:
        """The thumbnail as stored, made now (once, however many ask at the same time) if it
        was not made before."""
        key = f"{row.object_key}.{spec.suffix}"
        try:
            return await self.storage.stat(key)
        except ApiError as exc:
            if exc.code != "files.not_found":
                raise
        task = self._making.get(key)
        if task is None:
            task = asyncio.ensure_future(self._make_thumbnail(row, spec, key))
            self._making[key] = task
            task.add_done_callback(lambda _: self._making.pop(key, None))
        return await asyncio.shield(task)

    async def _make_thumbnail(self, row: FileRow, spec: ThumbSpec, key: str) -> Stored:
        """Made on a pool of its own, a few at a time: decoding a big image takes a core and
        hundreds of MB, and must neither pile up nor hold back the disk reads of downloads
        (which use asyncio's default pool)."""
        if row.size > MAX_THUMB_SOURCE:
            raise ApiError(
                "files.invalid_thumb", 400, f"no thumbnails of images over {MAX_THUMB_SOURCE} bytes"
            )
        async with self._thumbs_at_once:
            _, body = await self.storage.open(row.object_key)
            async with body:
                data = b"".join([chunk async for chunk in body])
            loop = asyncio.get_running_loop()
            made, mime = await loop.run_in_executor(self._thumb_pool, make_thumbnail, data, spec)
            del data
            return await self.storage.put(
                key, _once(made), content_type=mime, max_size=len(made) or 1
            )

    def redirect(self, key: str, seconds: int) -> str | None:
        """Where to send a download instead of serving it (files_s3_redirect), if anywhere:
        a presigned URL of the bucket, lasting `seconds`."""
        if not (self._services.settings.files_s3_redirect and isinstance(self.storage, S3Storage)):
            return None
        return self.storage.presigned_get(key, max(1, min(seconds, MAX_PRESIGNED_SECONDS)))

    # -- deletion -------------------------------------------------------------------------

    async def delete_job(self, job: Job) -> None:
        """`minibase.files.delete`: remove a `deleting` file's objects, then its row."""
        await self.delete_now(job.payload["file"])

    async def gc_job(self, job: Job) -> None:
        """`minibase.files.gc`, queued by the scheduler (at most hourly) when an upload waits to
        be collected: the stale and unfinished uploads (`minibase files gc` also sweeps)."""
        report = await self.gc(sweep=False)
        found = report.to_json()
        if any(found[name] for name in ("pending", "unfinished", "unheld", "orphans")):
            log.info("files gc: %s", {k: v for k, v in found.items() if isinstance(v, int)})

    async def delete_now(self, file_id: str) -> None:
        db = self._services.db
        async with db.reader() as reader:
            rows = await rows_by_id(reader, [file_id])
        if not rows or rows[0].state != "deleting":
            return  # gone already, or written back into a record since (never: ids are new)
        await self.remove_objects(rows[0].object_key)
        async with db.transaction() as conn:
            await conn.execute("DELETE FROM files WHERE id = ? AND state = 'deleting'", file_id)

    async def remove_objects(self, object_key: str) -> None:
        """The file's object and its thumbnails (every key that starts with its key)."""
        async for key in self.storage.list(object_key):
            await self.storage.delete(key)

    def _bounds(self) -> tuple[str, str]:
        """Uploads created before these are stale (no record took them) or crashed."""
        services = self._services
        now = services.clock.now()
        stale = isoformat(now - timedelta(hours=services.settings.files_pending_hours))
        return stale, isoformat(now - UPLOADING_GRACE)

    async def gc_due(self) -> bool:
        """Is an upload waiting to be collected? (One indexed look, for the scheduler.)"""
        stale, crashed = self._bounds()
        async with self._services.db.reader() as reader:
            found = await reader.fetch_value(
                "SELECT 1 FROM files WHERE record_id IS NULL AND ((state = 'ready' AND created < ?)"
                " OR (state = 'uploading' AND created < ?)) LIMIT 1",  # index files_waiting
                stale,
                crashed,
            )
        return found is not None

    async def gc(self, *, dry_run: bool = False, sweep: bool = True) -> GcReport:
        """Find what no record holds and, unless dry_run, remove it: uploads no record took
        and uploads that never finished; with `sweep`, also files whose record no longer
        names them and objects no file row names (every row and every object is read)."""
        services = self._services
        stale, crashed = self._bounds()
        report = GcReport()
        async with services.db.reader() as reader:
            pending = await reader.fetch_all(
                "SELECT id FROM files WHERE state = 'ready' AND record_id IS NULL AND created < ?",
                stale,
            )
            report.pending = [row[0] for row in pending]
            unfinished = await reader.fetch_all(
                "SELECT id FROM files WHERE state = 'uploading' AND record_id IS NULL"
                " AND created < ?",
                crashed,
            )
            report.unfinished = [row[0] for row in unfinished]
            if sweep:
                report.unheld = await self._unheld(reader)
                known = {row[0] for row in await reader.fetch_all("SELECT object_key FROM files")}
        if sweep:
            async for key in self.storage.list(""):
                base = key.split(".", 1)[0]
                if base not in known and key not in known:
                    report.orphans.append(key)
        if dry_run:
            return report
        async with services.db.transaction() as conn:
            doomed = await discard_files(
                services,
                conn,
                report.pending,
                still="state = 'ready' AND record_id IS NULL AND created < ?",
                params=(stale,),
            )
            doomed += await discard_files(
                services,
                conn,
                report.unfinished,
                still="state = 'uploading' AND created < ?",
                params=(crashed,),
            )
            doomed += await discard_files(
                services, conn, report.unheld, still="state = 'ready' AND record_id IS NOT NULL"
            )
        for file_id in doomed:  # now, not when a worker next runs (the queued jobs find none)
            await self.delete_now(file_id)
        for key in report.orphans:
            await self.storage.delete(key)
        return report

    async def _unheld(self, reader: Any) -> list[str]:
        """Attached files whose record is gone or no longer names them (a field dropped from
        the schema, a collection dropped)."""
        rows = [
            FileRow.from_row(row)
            for row in await reader.fetch_all(
                f"SELECT {FILE_COLUMNS} FROM files WHERE state = 'ready' AND record_id IS NOT NULL"
            )
        ]
        by_collection: dict[str, list[FileRow]] = {}
        for row in rows:
            by_collection.setdefault(row.collection_id, []).append(row)
        registry = self._services.collections
        unheld: list[str] = []
        for collection_id, found in by_collection.items():
            collection = registry.by_id(collection_id)
            if collection is None:
                unheld.extend(row.id for row in found)
                continue
            held = await _held_ids(reader, collection, {row.record_id for row in found})
            unheld.extend(row.id for row in found if row.id not in held)
        return unheld

    # -- media checks ---------------------------------------------------------------------

    async def checked(self, conn: Any, trace_id: str, suggest: str) -> None:
        """A media check's verdict arrived: the file it was about shows (pass) or stays hidden."""
        await conn.execute(
            'UPDATE files SET "check" = ?, updated = ? WHERE check_trace = ?',
            suggest,
            isoformat(self._services.clock.now()),
            trace_id,
        )

    async def aclose(self) -> None:
        self._thumb_pool.shutdown(wait=False, cancel_futures=True)
        await self.storage.aclose()


async def _held_ids(reader: Any, collection: Any, record_ids: set[str | None]) -> set[str]:
    ids = sorted(i for i in record_ids if i is not None)
    held: set[str] = set()
    fields = collection.schema.file_fields()
    for start in range(0, len(ids), 200):
        chunk = ids[start : start + 200]
        marks = ", ".join("?" for _ in chunk)
        rows = await reader.fetch_all(
            f"SELECT data FROM {collection.table} WHERE _id IN ({marks})", *chunk
        )
        for (raw,) in rows:
            record = orjson.loads(raw)
            for name, spec in fields.items():
                held.update(ref["id"] for ref in refs_of(spec, record.get(name)))
    return held


def file_path(row: FileRow) -> str:
    """The download path of a file: its id, then its name (for the browser's save dialog)."""
    return f"/api/files/{row.id}/{quote(row.name, safe='')}"


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data

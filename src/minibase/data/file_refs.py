"""The files a record's file fields hold, kept in step with the `files` table in the writing
transaction.

An upload stores the object and a `files` row first (minibase.data.uploads); a record write
then names files by id. `settle_files` turns each id into the reference the server keeps
({"id", "name", "size", "type", "etag", "created"}), so a client can neither make one up nor
point at another record's file: an id a write brings must be a pending upload of the same
collection and field by the same user (admins may use any), or one the record already holds.
A file a write drops, and every file of a deleted record, is `deleting` from that commit on;
the `minibase.files.delete` job removes its objects (original and thumbnails), then its row.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from minibase.auth.caller import Caller
from minibase.clock import isoformat
from minibase.errors import ApiError
from minibase.store.collections import Collection
from minibase.store.database import Connection
from minibase.store.schema_files import FileField

if TYPE_CHECKING:
    from minibase.services import Services

FILES_DELETE_JOB = "minibase.files.delete"
FILES_GC_JOB = "minibase.files.gc"
FILE_COLUMNS = (
    "id, collection_id, field, record_id, owner, object_key, name, size, type, etag, state,"
    ' "check", check_trace, created, updated'
)
_CHUNK = 200


@dataclass(frozen=True, slots=True)
class FileRow:
    id: str
    collection_id: str
    field: str
    record_id: str | None
    owner: str | None
    object_key: str
    name: str
    size: int
    type: str
    etag: str
    state: str  # uploading, ready, deleting
    check: str | None  # None, reviewing, pass, review, risky
    check_trace: str | None
    created: str
    updated: str

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> FileRow:
        values = list(row)
        values[7] = int(values[7])
        return cls(*values)

    def ref(self) -> dict[str, Any]:
        """What a record holds and an upload answers."""
        return {
            "id": self.id,
            "name": self.name,
            "size": self.size,
            "type": self.type,
            "etag": self.etag,
            "created": self.created,
        }

    def to_json(self) -> dict[str, Any]:
        """What admins see: the reference, where it is and how its check went."""
        return {
            **self.ref(),
            "field": self.field,
            "record": self.record_id,
            "owner": self.owner,
            "state": self.state,
            "check": self.check,
            "updated": self.updated,
        }


def file_not_found(field: str, missing: Iterable[str]) -> ApiError:
    shown = sorted(missing)
    return ApiError(
        "records.file_not_found",
        400,
        f"{field}: no uploaded file {shown[0]!r} to write here (upload it to this collection's"
        f" {field} field first; an upload is yours to use within files_pending_hours)",
        {"field": field, "missing": shown[:20]},
    )


async def rows_by_id(conn: Connection, ids: Sequence[str], *, lock: bool = False) -> list[FileRow]:
    rows: list[FileRow] = []
    suffix = " FOR UPDATE" if lock and conn.dialect.name == "postgres" else ""
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ", ".join("?" for _ in chunk)
        found = await conn.fetch_all(
            f"SELECT {FILE_COLUMNS} FROM files WHERE id IN ({marks}){suffix}", *chunk
        )
        rows.extend(FileRow.from_row(row) for row in found)
    return rows


def refs_of(field: FileField, value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    items = value if field.multiple else [value]
    return [item for item in items if isinstance(item, dict) and "id" in item]


def may_claim(caller: Caller, row: FileRow) -> bool:
    """May this caller write a pending upload into a record?"""
    return caller.is_admin or (caller.is_user and row.owner == caller.id)


async def settle_files(
    services: Services,
    conn: Connection,
    collection: Collection,
    records: Sequence[dict[str, Any]],
    caller: Caller,
    previous: Mapping[str, Any] | None = None,
) -> None:
    """Replace the file ids of `records` (about to be written) with the server's references,
    attach the files they bring, and queue the deletion of those `previous` held and they drop."""
    fields = collection.schema.file_fields()
    if not fields:
        return
    now = isoformat(services.clock.now())
    held_before = previous or {}
    dropped: list[str] = []
    for record in records:
        for name, field in fields.items():
            known = {ref["id"]: ref for ref in refs_of(field, held_before.get(name))}
            wanted = field.file_ids(record.get(name))
            brought = [file_id for file_id in wanted if file_id not in known]
            if brought:
                known.update(await _claim(conn, collection, record, name, brought, caller, now))
            if record.get(name) is not None:
                refs = [known[file_id] for file_id in wanted]
                record[name] = refs if field.multiple else refs[0]
            keeping = set(wanted)
            dropped.extend(file_id for file_id in known if file_id not in keeping)  # held before
    await discard_files(services, conn, dropped)


async def _claim(
    conn: Connection,
    collection: Collection,
    record: Mapping[str, Any],
    field: str,
    ids: list[str],
    caller: Caller,
    now: str,
) -> dict[str, dict[str, Any]]:
    found = {
        row.id: row
        for row in await rows_by_id(conn, ids, lock=True)
        if row.collection_id == collection.id
        and row.field == field
        and row.state == "ready"
        and (row.record_id == record["_id"] or (row.record_id is None and may_claim(caller, row)))
    }
    missing = [file_id for file_id in ids if file_id not in found]
    if missing:
        raise file_not_found(field, missing)
    marks = ", ".join("?" for _ in ids)
    await conn.execute(
        f"UPDATE files SET record_id = ?, updated = ? WHERE id IN ({marks})",
        record["_id"],
        now,
        *ids,
    )
    return {file_id: row.ref() for file_id, row in found.items()}


async def release_files(
    services: Services,
    conn: Connection,
    collection: Collection,
    records: Iterable[Mapping[str, Any]],
) -> None:
    """The records are being deleted: their files go too."""
    fields = collection.schema.file_fields()
    if not fields:
        return
    ids = [
        ref["id"]
        for record in records
        for name, field in fields.items()
        for ref in refs_of(field, record.get(name))
    ]
    await discard_files(services, conn, ids)


async def discard_files(
    services: Services,
    conn: Connection,
    ids: Sequence[str],
    *,
    still: str = "state <> 'deleting'",
    params: Sequence[Any] = (),
) -> list[str]:
    """Mark the files `deleting` and queue their deletion, in the caller's transaction; only
    those that `still` meet its condition as they are marked (the gc's findings may have been
    written into a record since). The ids marked."""
    now = isoformat(services.clock.now())
    marked: list[str] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ", ".join("?" for _ in chunk)
        rows = await conn.fetch_all(
            f"UPDATE files SET state = 'deleting', updated = ? WHERE id IN ({marks})"
            f" AND {still} RETURNING id",
            now,
            *chunk,
            *params,
        )
        marked.extend(row[0] for row in rows)
    for file_id in marked:
        await services.jobs.enqueue(
            FILES_DELETE_JOB, {"file": file_id}, key=f"{FILES_DELETE_JOB}:{file_id}", conn=conn
        )
    return marked


async def discard_collection_files(
    services: Services, conn: Connection, collection_id: str
) -> None:
    """The collection is being dropped: every file of it goes."""
    rows = await conn.fetch_all(
        "SELECT id FROM files WHERE collection_id = ? AND state <> 'deleting'", collection_id
    )
    await discard_files(services, conn, [row[0] for row in rows])

"""Uploads into a collection's file fields, as mini programs send them (`wx.uploadFile` and the
other platforms' copies: multipart/form-data, the file under one part name, text fields, the
bearer token).

    row = await upload_file(services, caller, "posts", "photo", body, content_type)
    row, record = await upload_into_record(services, caller, "posts", record_id, "photo", ...)

The bytes stream into storage as they arrive (never whole in memory), refused the moment they
pass the field's max_size; the type is the content's (magic bytes), checked against the
field's `types`. The `files` row is written `uploading` before the object, and becomes `ready`
only once the object is whole: an upload cut off half way leaves no row a record could name,
and an object whose row never came is an orphan `files gc` removes. Storage failing is 503
`files.unavailable` and writes no record.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

import orjson

from minibase.auth.caller import Caller
from minibase.clock import isoformat
from minibase.data.access import denied, rule_condition
from minibase.data.file_refs import FILE_COLUMNS, FileRow, discard_files, may_claim, rows_by_id
from minibase.data.records import get_record, update_record
from minibase.errors import ApiError
from minibase.files.multipart import BodySource, UploadLimits, read_upload
from minibase.files.s3 import S3Storage
from minibase.files.sniff import SNIFF_BYTES, check_allowed, peek, sniff
from minibase.rules.conditions import evaluate
from minibase.services import Services
from minibase.store.collections import Collection
from minibase.store.database import Connection
from minibase.store.pages import newest_first
from minibase.store.schema_files import FILE_ID, FileField

log = logging.getLogger("minibase.files")
MAX_NAME = 200
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "video/mp4": ".mp4",
    "audio/mpeg": ".mp3",
    "audio/mp4": ".m4a",
    "audio/silk": ".silk",
    "application/pdf": ".pdf",
    "text/plain": ".txt",
}
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def file_field(collection: Collection, name: str) -> FileField:
    found = collection.schema.file_fields().get(name)
    if found is None:
        fields = sorted(collection.schema.file_fields())
        raise ApiError(
            "files.unknown_field",
            404,
            f"{collection.name} has no file field {name!r}"
            + (
                f" (its file fields: {', '.join(fields)})" if fields else " (it has no file fields)"
            ),
            {"field": name, "file_fields": fields},
        )
    return found


def display_name(given: str | None, mime: str, file_id: str) -> str:
    """The name shown for a file: the client's, without any folder or control characters, or
    the id with the extension of its type."""
    text = unicodedata.normalize("NFC", given or "")
    # format characters (bidi overrides and isolates, zero-width marks) can make
    # "photo\u202egpj.exe" show as "photoexe.jpg"
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = _UNSAFE.sub("_", text).strip(" .")[:MAX_NAME]
    return text or f"{file_id}{_EXTENSIONS.get(mime, '')}"


def _check_uploader(caller: Caller) -> None:
    if not (caller.is_user or caller.is_admin):
        raise ApiError("auth.required", 401, "sign in to upload files")


def _check_may_write(caller: Caller, collection: Collection) -> None:
    """An upload whose file no write could ever take is refused before its bytes are read."""
    if caller.is_admin:
        return
    rules = collection.compiled_rules
    if rules["create"] is None and rules["update"] is None:
        raise denied(caller, collection, "create")


async def upload_file(
    services: Services,
    caller: Caller,
    collection_name: str,
    field_name: str,
    body: BodySource,
    content_type: str | None,
) -> FileRow:
    """A pending upload: stored, and the caller's to write into a record of this collection's
    field (by its id) within files_pending_hours."""
    collection = await services.collections.get(collection_name)
    field = file_field(collection, field_name)
    _check_uploader(caller)
    check_media_possible(services, caller, field)
    _check_may_write(caller, collection)
    row = await receive(services, collection, field_name, field, caller, body, content_type)
    await start_media_check(services, caller, field, row)
    return row


async def upload_into_record(
    services: Services,
    caller: Caller,
    collection_name: str,
    record_id: str,
    field_name: str,
    body: BodySource,
    content_type: str | None,
) -> tuple[FileRow, dict[str, Any]]:
    """Upload, then write the file into the record's field under its update rule (a single
    field's file replaced, a multiple field's appended) in one transaction."""
    collection = await services.collections.get(collection_name)
    field = file_field(collection, field_name)
    _check_uploader(caller)
    check_media_possible(services, caller, field)
    stored = await _updatable(services, caller, collection, record_id)
    if field.multiple and len(stored.get(field_name) or []) >= field.max_files:
        raise ApiError(  # before a byte is read
            "records.invalid",
            400,
            f"{field_name} holds {field.max_files} files already, its most",
            {"problems": [{"field": field_name, "code": "max", "message": "full"}]},
        )
    row = await receive(services, collection, field_name, field, caller, body, content_type)
    await start_media_check(services, caller, field, row)  # before any record names the file
    op = "$push" if field.multiple else "$set"
    try:
        record = await update_record(
            services, caller, collection.name, record_id, {op: {field_name: row.id}}, replace=False
        )
    except BaseException:
        await _discard(services, row)
        raise
    return row, record


async def _updatable(
    services: Services, caller: Caller, collection: Collection, record_id: str
) -> dict[str, Any]:
    """The record, if the caller could update it as it stands (checked again when written)."""
    stored = orjson.loads(await get_record(services, caller, collection.name, record_id))
    if not caller.is_admin:
        allowed = rule_condition(caller, collection, "update", {})
        if not evaluate(allowed, stored):
            raise denied(caller, collection, "update")
    return dict(stored)


async def receive(
    services: Services,
    collection: Collection,
    field_name: str,
    field: FileField,
    caller: Caller,
    body: BodySource,
    content_type: str | None,
) -> FileRow:
    """Read the upload into storage: the `files` row first, the object, then the row ready
    (hidden from the start when the platform is to check it)."""
    settings = services.settings
    limit = field.max_size or settings.files_max_size
    limits = UploadLimits(file_part=settings.files_part_name, max_file_bytes=limit)
    upload = await read_upload(body, content_type, limits)
    head, chunks = await peek(upload.file)
    mime = check_allowed(sniff(head), field.types, claimed=upload.content_type)
    file_id = services.ids.new()
    key = services.files.object_key(collection.id, file_id)
    now = isoformat(services.clock.now())
    async with services.db.transaction() as conn:
        await conn.execute(
            f"INSERT INTO files ({FILE_COLUMNS}) VALUES"
            " (?, ?, ?, NULL, ?, ?, ?, 0, ?, '', 'uploading', ?, NULL, ?, ?)",
            file_id,
            collection.id,
            field_name,
            caller.id,
            key,
            display_name(upload.filename, mime, file_id),
            mime,
            "reviewing" if needs_check(caller, field, mime) else None,
            now,
            now,
        )
    try:
        stored = await services.files.storage.put(key, chunks, content_type=mime, max_size=limit)
    except BaseException:
        await _forget(services, file_id)
        raise
    name = display_name(_given_name(upload.fields) or upload.filename, mime, file_id)
    async with services.db.transaction() as conn:
        return await _ready(conn, file_id, name, stored.size, stored.etag, services)


def _given_name(fields: Mapping[str, str]) -> str | None:
    return fields.get("name") or fields.get("fileName") or None


async def _ready(
    conn: Connection, file_id: str, name: str, size: int, etag: str, services: Services
) -> FileRow:
    row = await conn.fetch_one(
        "UPDATE files SET state = 'ready', name = ?, size = ?, etag = ?, updated = ?"
        f" WHERE id = ? AND state = 'uploading' RETURNING {FILE_COLUMNS}",
        name,
        size,
        etag,
        isoformat(services.clock.now()),
        file_id,
    )
    if row is None:  # gc took it: the upload outlived UPLOADING_GRACE
        raise ApiError("files.unavailable", 503, "the upload took too long; send it again")
    return FileRow.from_row(row)


async def _forget(services: Services, file_id: str) -> None:
    """An upload that failed: its row goes (storage left no object)."""
    try:
        async with services.db.transaction() as conn:
            await conn.execute("DELETE FROM files WHERE id = ? AND state = 'uploading'", file_id)
    except Exception:  # the row stays `uploading`; gc removes it
        log.exception("file %s: the row of a failed upload stays for gc", file_id)


async def _discard(services: Services, row: FileRow) -> None:
    async with services.db.transaction() as conn:
        await discard_files(services, conn, [row.id])


def needs_check(caller: Caller, field: FileField, mime: str) -> bool:
    """Does the platform check this file before it shows? Users' images of checked fields."""
    return field.content_rule is not None and not caller.is_admin and mime.startswith("image/")


def check_media_possible(services: Services, caller: Caller, field: FileField) -> None:
    """The platform downloads the images it checks: from public_url (in --dev, this host)."""
    settings = services.settings
    if field.content_rule is None or caller.is_admin or settings.public_url or settings.dev:
        return
    raise ApiError(
        "files.not_configured",
        503,
        "set public_url: the platform downloads the images it checks from this server",
    )


async def start_media_check(
    services: Services, caller: Caller, field: FileField, row: FileRow
) -> None:
    """Send an image of a content-checked field to the platform's media check; until a verdict
    that passes, the file is hidden (files.reviewing). Admins' uploads are not checked."""
    rule = field.content_rule
    if rule is None or not needs_check(caller, field, row.type):
        return
    assert caller.id is not None
    url, _ = services.files.link(row, services.settings.files_link_max_seconds)
    try:
        check = await services.content.check_media(
            caller.id, caller.appid, url, "image", scene=rule.scene
        )
    except BaseException:
        await _discard(services, row)
        raise
    state = "reviewing" if check.state == "pending" else check.state
    async with services.db.transaction() as conn:
        await conn.execute(
            'UPDATE files SET "check" = ?, check_trace = ? WHERE id = ?',
            state,
            check.trace_id,
            row.id,
        )
        await _settled_while_asking(services, conn, row.id, check.trace_id)


async def _settled_while_asking(
    services: Services, conn: Connection, file_id: str, trace_id: str
) -> None:
    """A verdict that arrived before the trace id was stored on the file is applied now."""
    verdict = await conn.fetch_value(
        "SELECT state FROM content_media_checks WHERE trace_id = ?", trace_id
    )
    if verdict and verdict != "pending":
        await conn.execute('UPDATE files SET "check" = ? WHERE id = ?', verdict, file_id)


async def file_rows(services: Services, ids: list[str]) -> dict[str, FileRow]:
    async with services.db.reader() as reader:
        return {row.id: row for row in await rows_by_id(reader, ids)}


# -- direct uploads (S3 storage): the bytes go to the bucket, not through this server --------

DIRECT_SECONDS = 3600


async def start_direct_upload(
    services: Services, caller: Caller, collection_name: str, field_name: str, body: Any
) -> tuple[FileRow, dict[str, Any], int]:
    """A presigned form the client posts the file to (wx.uploadFile with `formData`), for an
    upload completed by `complete_direct_upload`. The bucket enforces the size."""
    if not isinstance(body, dict) or set(body) - {"name", "size"}:
        raise ApiError("request.invalid_body", 400, 'the body is {"name": ..., "size": bytes}')
    size = body.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ApiError("request.invalid_body", 400, "size is the file's size in bytes")
    given = body.get("name")
    if "name" in body and not isinstance(given, str):
        raise ApiError("request.invalid_body", 400, "name is the file's name, a string")
    if not services.files.direct_uploads:
        raise ApiError(
            "files.direct_unavailable",
            404,
            "direct uploads need S3 storage (s3_bucket); upload through the server instead",
        )
    collection = await services.collections.get(collection_name)
    field = file_field(collection, field_name)
    _check_uploader(caller)
    owner = caller.id
    check_media_possible(services, caller, field)
    _check_may_write(caller, collection)
    limit = field.max_size or services.settings.files_max_size
    if size > limit:
        raise ApiError(
            "files.too_large", 413, f"the file is larger than {limit} bytes", {"max": limit}
        )
    file_id = services.ids.new()
    key = services.files.object_key(collection.id, file_id)
    now = isoformat(services.clock.now())
    name = display_name(given, "", file_id)
    async with services.db.transaction() as conn:
        await conn.execute(
            f"INSERT INTO files ({FILE_COLUMNS}) VALUES"
            " (?, ?, ?, NULL, ?, ?, ?, ?, '', '', 'uploading', NULL, NULL, ?, ?)",
            file_id,
            collection.id,
            field_name,
            owner,
            key,
            name,
            size,
            now,
            now,
        )
        row = (await rows_by_id(conn, [file_id]))[0]
    storage = services.files.storage
    assert isinstance(storage, S3Storage)
    form = storage.presigned_post(key, DIRECT_SECONDS, max_size=size)
    expires = int(services.clock.timestamp()) + DIRECT_SECONDS
    upload = {"url": form.url, "fields": form.fields, "part": "file"}
    return row, upload, expires


async def complete_direct_upload(services: Services, caller: Caller, file_id: str) -> FileRow:
    """The object is in the bucket: check its size and content like an upload through the
    server, and make the file ready (or remove what arrived)."""
    rows = await file_rows(services, [file_id]) if FILE_ID.fullmatch(file_id) else {}
    row = rows.get(file_id)
    collection = services.collections.by_id(row.collection_id) if row else None
    field = collection.schema.file_fields().get(row.field) if row and collection else None
    if row is None or row.state != "uploading" or not may_claim(caller, row) or field is None:
        raise ApiError("files.not_found", 404, f"no direct upload {file_id!r}", {"id": file_id})
    storage = services.files.storage
    try:
        stored = await storage.stat(row.object_key)
    except ApiError as exc:
        if exc.code != "files.not_found":
            raise
        raise ApiError(
            "files.not_uploaded", 409, "the file has not arrived in the bucket yet"
        ) from None
    try:
        if stored.size != row.size:
            raise ApiError(
                "files.not_uploaded",
                409,
                f"{stored.size} bytes arrived, not the {row.size} announced",
                {"size": stored.size},
            )
        _, body = await storage.open(row.object_key, 0, SNIFF_BYTES - 1)
        async with body:
            head = b"".join([chunk async for chunk in body])
        mime = check_allowed(sniff(head), field.types)
    except ApiError:
        await services.files.remove_objects(row.object_key)
        await _forget(services, file_id)
        raise
    name = row.name if "." in row.name else display_name(None, mime, file_id)
    async with services.db.transaction() as conn:
        await conn.execute(
            'UPDATE files SET type = ?, "check" = ? WHERE id = ?',
            mime,
            "reviewing" if needs_check(caller, field, mime) else None,
            file_id,
        )
        ready = await _ready(conn, file_id, name, stored.size, stored.etag, services)
    await start_media_check(services, caller, field, ready)
    return ready


async def list_files(
    services: Services,
    collection_name: str,
    *,
    state: str | None,
    field: str | None,
    record: str | None,
    before: str | None,
    limit: int,
) -> list[FileRow]:
    """A collection's files, newest first (admins)."""
    collection = await services.collections.get(collection_name)
    sql, params = newest_first(
        "files",
        FILE_COLUMNS,
        before=before,
        limit=limit,
        collection_id=collection.id,
        state=state,
        field=field,
        record_id=record,
    )
    async with services.db.reader() as reader:
        rows = await reader.fetch_all(sql, *params)
    return [FileRow.from_row(row) for row in rows]

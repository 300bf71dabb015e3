"""Getting files back: temporary URLs (CloudBase's getTempFileURL), the download behind them,
and deleting files (deleteFile).

Who may see a file is who may read the record that holds it (its collection's read rule,
checked when a URL is issued); a pending upload is its uploader's. A URL carries its expiry
and an HMAC of the object it opens, so the download itself needs no token. Files of a
collection whose read rule lets anyone read are served without a signature. A file the
platform's media check has not passed is hidden from everyone but admins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from minibase.auth.caller import ANONYMOUS, Caller
from minibase.data.access import rule_condition
from minibase.data.file_refs import FileRow, discard_files, may_claim, refs_of
from minibase.data.records import get_record, update_record
from minibase.data.uploads import file_rows
from minibase.errors import ApiError
from minibase.files.storage import Stored
from minibase.files.thumbnails import ThumbSpec, parse_thumb
from minibase.rules.conditions import TRUE
from minibase.services import Services
from minibase.store.collections import Collection
from minibase.store.schema_files import FILE_ID, FileField

MAX_FILES_AT_ONCE = 50


def file_not_found(file_id: str) -> ApiError:
    return ApiError("files.not_found", 404, f"no file {file_id!r}", {"id": file_id})


def _ids(value: Any) -> list[str]:
    if (
        not isinstance(value, list)
        or not 0 < len(value) <= MAX_FILES_AT_ONCE
        or not all(isinstance(item, str) for item in value)
    ):
        raise ApiError(
            "request.invalid_body",
            400,
            f"files is a list of 1 to {MAX_FILES_AT_ONCE} file ids",
        )
    return list(value)  # a repeated id is answered again: answers pair with ids by position


def hidden_by_check(row: FileRow, field: FileField | None) -> ApiError | None:
    """Why the media check keeps this file from being shown, if it does."""
    strict = field is not None and field.content_rule is not None and field.content_rule.strict
    if row.check == "reviewing":
        return ApiError(
            "files.reviewing", 403, "the platform is still checking this image", {"id": row.id}
        )
    if row.check == "risky" or (row.check == "review" and strict):
        return ApiError(
            "files.flagged", 403, "the platform's check flagged this image", {"id": row.id}
        )
    return None


@dataclass(frozen=True)
class Located:
    row: FileRow
    collection: Collection
    field: FileField | None


def _locate(services: Services, row: FileRow | None, file_id: str) -> Located:
    if row is None or row.state != "ready":
        raise file_not_found(file_id)
    collection = services.collections.by_id(row.collection_id)
    if collection is None:
        raise file_not_found(file_id)
    return Located(row, collection, collection.schema.file_fields().get(row.field))


async def _check_may_see(services: Services, caller: Caller, found: Located) -> None:
    row = found.row
    if row.record_id is None:
        if not may_claim(caller, row):
            raise file_not_found(row.id)
    elif not caller.is_admin:
        await _readable_record(services, caller, found)
    if not caller.is_admin:
        reason = hidden_by_check(row, found.field)
        if reason is not None:
            raise reason


async def _readable_record(services: Services, caller: Caller, found: Located) -> dict[str, Any]:
    """The record holding the file, if the caller may read it; else the file is not found
    (whether the record is missing, hidden by its rule, or its collection admins' only)."""
    assert found.row.record_id is not None
    try:
        raw = await get_record(services, caller, found.collection.name, found.row.record_id)
    except ApiError as exc:
        if exc.code in ("records.not_found", "auth.forbidden", "auth.required"):
            raise file_not_found(found.row.id) from None
        raise
    record: dict[str, Any] = orjson.loads(raw)
    return record


async def temp_urls(
    services: Services, caller: Caller, body: Any, base: str | None
) -> list[dict[str, Any]]:
    """A URL for each file the caller may see, an error for each other, in the order asked."""
    if not isinstance(body, dict):
        raise ApiError("request.invalid_body", 400, "the body is a JSON object")
    settings = services.settings
    seconds = body.get("expires", settings.files_link_seconds)
    if isinstance(seconds, float) and seconds.is_integer():
        seconds = int(seconds)  # 600.0 is 600 to JSON
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise ApiError("request.invalid_body", 400, "expires is a number of seconds")
    if not 1 <= seconds <= settings.files_link_max_seconds:
        raise ApiError(
            "files.invalid_expiry",
            400,
            f"a link lasts 1 to {settings.files_link_max_seconds} seconds, not {seconds}",
        )
    unknown = set(body) - {"files", "expires"}
    if unknown:
        raise ApiError("request.invalid_body", 400, f"unknown keys {sorted(unknown)}")
    ids = _ids(body.get("files"))
    rows = await file_rows(services, [i for i in ids if FILE_ID.fullmatch(i)])
    answers: list[dict[str, Any]] = []
    for file_id in ids:
        try:
            found = _locate(services, rows.get(file_id), file_id)
            await _check_may_see(services, caller, found)
            url, expires = services.files.link(found.row, seconds, base)
            answers.append({"id": file_id, "url": url, "expires_at": expires})
        except ApiError as exc:
            answers.append({"id": file_id, "error": {"code": exc.code, "message": exc.message}})
    return answers


def is_public(collection: Collection) -> bool:
    """Does the collection's read rule let anyone, signed in or not, read every record?"""
    try:
        return rule_condition(ANONYMOUS, collection, "read") == TRUE
    except ApiError:
        return False


@dataclass(frozen=True)
class Download:
    row: FileRow
    stored: Stored  # the object to serve: the file, or one of its thumbnails
    public: bool


async def open_download(
    services: Services,
    file_id: str,
    expires: str | None,
    sig: str | None,
    thumb: str | None,
    fit: str | None,
) -> Download:
    """What a download URL serves, if its signature holds (or the file is public)."""
    if FILE_ID.fullmatch(file_id) is None:
        raise file_not_found(file_id)
    rows = await file_rows(services, [file_id])
    found = _locate(services, rows.get(file_id), file_id)
    row = found.row
    public = False
    if expires is None and sig is None and row.record_id is not None:
        public = is_public(found.collection)
    if not public:
        services.files.links.check(row.object_key, expires, sig)
    reason = hidden_by_check(row, found.field)
    if reason is not None:
        raise reason
    if thumb is None:
        if fit is not None:
            raise ApiError("files.invalid_thumb", 400, "fit goes with thumb")
        return Download(row, Stored(row.object_key, row.size, row.etag, row.type), public)
    spec = _thumb_spec(found, thumb, fit)
    return Download(row, await services.files.thumbnail(row, spec), public)


def _thumb_spec(found: Located, thumb: str, fit: str | None) -> ThumbSpec:
    allowed = found.field.thumbs if found.field is not None else ()
    spec = parse_thumb(thumb, fit, allowed)
    if not found.row.type.startswith("image/") or found.row.type == "image/svg+xml":
        raise ApiError("files.invalid_thumb", 400, f"no thumbnails of {found.row.type} files")
    return spec


async def delete_files(services: Services, caller: Caller, body: Any) -> list[dict[str, Any]]:
    """Each file: a pending upload by its uploader, an attached one out of its record (under
    the record's update rule); the objects go in a job."""
    if not isinstance(body, dict) or set(body) - {"files"}:
        raise ApiError("request.invalid_body", 400, 'the body is {"files": [ids]}')
    ids = _ids(body.get("files"))
    rows = await file_rows(services, [i for i in ids if FILE_ID.fullmatch(i)])
    answers: list[dict[str, Any]] = []
    for file_id in ids:
        try:
            await _delete_one(services, caller, _locate(services, rows.get(file_id), file_id))
            answers.append({"id": file_id, "deleted": True})
        except ApiError as exc:
            answers.append({"id": file_id, "error": {"code": exc.code, "message": exc.message}})
    return answers


async def _delete_one(services: Services, caller: Caller, found: Located) -> None:
    row = found.row
    if row.record_id is None:
        if not may_claim(caller, row):
            raise file_not_found(row.id)
        async with services.db.transaction() as conn:
            await discard_files(services, conn, [row.id])
        return
    name = found.collection.name
    stored = await _readable_record(services, caller, found)
    field = found.field
    if field is None:
        raise file_not_found(row.id)
    kept = [ref["id"] for ref in refs_of(field, stored.get(row.field)) if ref["id"] != row.id]
    value: Any = kept if field.multiple else None
    assert row.record_id is not None
    await update_record(
        services,
        caller,
        name,
        row.record_id,
        {"$set": {row.field: value}} if value is not None else {"$unset": {row.field: True}},
        replace=False,
        expected_version=int(stored["_version"]),
    )

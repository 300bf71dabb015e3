"""The records API: create, read, list, update and delete records, each in one transaction,
with the collection's schema validated and its access rules applied.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from minibase.auth.caller import Caller
from minibase.clock import isoformat
from minibase.data.access import denied, is_locked, rule_condition
from minibase.data.changes import log_change
from minibase.data.content_rule import ContentGate, gated, new_texts
from minibase.data.expand import ExpandLimits, expand_records, plan_for, with_expand
from minibase.data.expand_paths import ExpandNode
from minibase.data.file_refs import release_files, settle_files
from minibase.data.known_paths import check_projected_paths, check_sort_paths, checked_filter
from minibase.data.listing import (
    ListQuery,
    SortKey,
    after_cursor,
    decode_cursor,
    encode_cursor,
    order_by,
    project,
    sort_keys,
)
from minibase.data.references import check_references
from minibase.data.shape import RecordLimits, check_shape
from minibase.data.updates import Change, apply_update, parse_update
from minibase.errors import ApiError
from minibase.hooks import RecordEvent
from minibase.memo import remember
from minibase.rules.conditions import (
    FALSE,
    TRUE,
    And,
    Condition,
    Near,
    Search,
    all_of,
    ascii_lower,
    evaluate,
)
from minibase.services import Services
from minibase.store.collections import Collection
from minibase.store.database import Connection, Database, IntegrityViolation, json_column
from minibase.store.schema import ValidationError

RECORD_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
SYSTEM_INPUT = frozenset({"_id", "_owner", "_version"})
KEPT_STATEMENTS = 1024  # get-by-id and list SQL a collection keeps, at most (each)


def not_found(collection: Collection, record_id: str) -> ApiError:
    return ApiError("records.not_found", 404, f"no record {record_id!r} in {collection.name}")


def _check_id(collection: Collection, record_id: str) -> None:
    """An id no record can have is not found (and never reaches the database)."""
    if not RECORD_ID.fullmatch(record_id):
        raise not_found(collection, record_id)


def _where(
    conn_dialect: Any, collection: Collection, condition: Condition
) -> tuple[str, tuple[Any, ...]]:
    compiled = collection.compiler(conn_dialect).compile(condition)
    return compiled.sql, compiled.params


def _user_part(document: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if not key.startswith("_")}


def _validate(
    collection: Collection,
    body: Mapping[str, Any],
    limits: RecordLimits,
    *,
    index: int | None = None,
) -> dict[str, Any]:
    check_shape(body, limits, index)
    try:
        fields = collection.schema.validate(body, apply_defaults=True)
    except ValidationError as exc:
        details: dict[str, Any] = {"problems": exc.problems}
        if index is not None:
            details["index"] = index
        raise ApiError(
            "records.invalid", 400, "the record does not match the schema", details
        ) from None
    return fields


def _expected_version(body: Mapping[str, Any], header: int | None) -> int | None:
    version = header if body.get("_version") is None else body["_version"]
    if version is not None and (not isinstance(version, int) or isinstance(version, bool)):
        raise ApiError("records.invalid_update", 400, "_version must be a whole number")
    return version


def _integrity(collection: Collection, exc: IntegrityViolation, record_id: str) -> ApiError:
    name = exc.constraint or ""
    for index in collection.indexes:
        if index.fingerprint in name:
            fields = index.to_definition()["fields"]
            return ApiError(
                "records.unique_violation",
                409,
                f"another record has the same {', '.join(fields)}",
                {"fields": fields},
            )
    return ApiError("records.exists", 409, f"a record with _id {record_id!r} exists")


# -- create -------------------------------------------------------------------------------


def _new_record(
    services: Services, caller: Caller, collection: Collection, body: Any, index: int | None
) -> dict[str, Any]:
    where = {"index": index} if index is not None else None
    if not isinstance(body, Mapping):
        raise ApiError("request.invalid_body", 400, "a record is a JSON object", where)
    record_id = body.get("_id")
    if record_id is None:
        record_id = services.ids.new()
    if not isinstance(record_id, str) or not RECORD_ID.fullmatch(record_id):
        raise ApiError("records.invalid", 400, f"_id must match {RECORD_ID.pattern}", where)
    owner = caller.id if caller.is_user else None
    if "_owner" in body:
        if not caller.is_admin:
            raise ApiError("records.invalid", 400, "only admins may set _owner", where)
        owner = body["_owner"]
        if owner is not None and not (isinstance(owner, str) and RECORD_ID.fullmatch(owner)):
            raise ApiError("records.invalid", 400, "_owner must be a user id or null", where)
    fields = _validate(
        collection,
        {k: v for k, v in body.items() if k not in SYSTEM_INPUT},
        services.settings,
        index=index,
    )
    now = isoformat(services.clock.now())
    record = {"_id": record_id, "_owner": owner, "_created": now, "_updated": now, "_version": 1}
    record.update(fields)
    allowed = rule_condition(caller, collection, "create", fields)
    if not evaluate(allowed, record):
        raise denied(caller, collection, "create")
    return record


async def _insert(conn: Connection, collection: Collection, record: dict[str, Any]) -> None:
    try:
        await conn.execute(
            f"INSERT INTO {collection.table} (_id, _owner, _created, _updated, _version, data)"
            f" VALUES (?, ?, ?, ?, ?, {conn.dialect.json_param()})",
            record["_id"],
            record["_owner"],
            record["_created"],
            record["_updated"],
            1,
            orjson.dumps(record).decode(),
        )
    except IntegrityViolation as exc:
        raise _integrity(collection, exc, record["_id"]) from None


@asynccontextmanager
async def _transaction(services: Services, conn: Connection | None) -> AsyncIterator[Connection]:
    """The caller's transaction when one is given (a cloud function's), else a new one."""
    if conn is not None:
        yield conn
        return
    async with services.db.transaction() as own:
        yield own


async def before_write(
    services: Services,
    conn: Connection,
    collection: Collection,
    event: RecordEvent,
    index: int | None = None,
) -> dict[str, Any]:
    """Run the before hooks; a hook may change user fields (checked again), never system ones."""
    if not services.hooks.watches(collection.name, event.action):
        return event.record
    original = dict(event.record)
    await services.hooks.before(event, conn)
    if event.action == "delete":
        return original
    fields = _validate(collection, _user_part(event.record), services.settings, index=index)
    record = {key: value for key, value in original.items() if key.startswith("_")}
    record.update(fields)
    event.record = record
    return record


async def after_write(
    services: Services, conn: Connection, collection: Collection, event: RecordEvent
) -> None:
    """In the write's transaction: the after hooks, and the change for realtime subscribers."""
    if services.hooks.watches(collection.name, event.action):
        await services.hooks.after(event, conn)
    log_change(conn, services.clock, event, services.realtime.committed)


async def create_record(
    services: Services, caller: Caller, name: str, body: Any, *, conn: Connection | None = None
) -> dict[str, Any]:
    collection = await services.collections.get(name)
    record = _new_record(services, caller, collection, body, None)
    gate = ContentGate(services, caller, collection, can_leave=conn is None)
    if gate.active and conn is None:
        await gate.check(new_texts(collection, None, record))

    async def write() -> dict[str, Any]:
        async with _transaction(services, conn) as tx:
            event = RecordEvent(collection.name, "create", dict(record), None, caller)
            written = await before_write(services, tx, collection, event)
            gate.admit(None, written)
            await check_references(tx, services.collections, collection, [written], caller)
            await settle_files(services, tx, collection, [written], caller)
            await _insert(tx, collection, written)
            await after_write(services, tx, collection, event)
        return written

    written = await gated(gate, write)
    services.db.note_writes(collection.table, 1)
    return written


async def create_records(
    services: Services, caller: Caller, name: str, bodies: Any, *, conn: Connection | None = None
) -> list[dict[str, Any]]:
    """All or nothing: every record is checked before any is written."""
    collection = await services.collections.get(name)
    limit = services.settings.bulk_max_records
    if not isinstance(bodies, list) or not bodies:
        raise ApiError("request.invalid_body", 400, "records must be a non-empty list")
    if len(bodies) > limit:
        raise ApiError("records.bulk_too_large", 400, f"at most {limit} records at once")
    records = [_new_record(services, caller, collection, body, i) for i, body in enumerate(bodies)]
    gate = ContentGate(services, caller, collection, can_leave=conn is None)
    if gate.active and conn is None:
        await gate.check(
            [
                text
                for i, record in enumerate(records)
                for text in new_texts(collection, None, record, i)
            ]
        )

    async def write() -> list[dict[str, Any]]:
        async with _transaction(services, conn) as tx:
            events = [
                RecordEvent(collection.name, "create", dict(record), None, caller)
                for record in records
            ]
            written = [
                await before_write(services, tx, collection, event, i)
                for i, event in enumerate(events)
            ]
            for i, record in enumerate(written):
                gate.admit(None, record, i)
            await check_references(tx, services.collections, collection, written, caller)
            await settle_files(services, tx, collection, written, caller)
            for record in written:
                await _insert(tx, collection, record)
            for event in events:
                await after_write(services, tx, collection, event)
        return written

    written = await gated(gate, write)
    services.db.note_writes(collection.table, len(written))
    return written


# -- read ---------------------------------------------------------------------------------


async def get_record(
    services: Services,
    caller: Caller,
    name: str,
    record_id: str,
    fields: Sequence[tuple[str, ...]] | None = None,
    *,
    expand: Sequence[str] = (),
    conn: Connection | None = None,
) -> bytes:
    """The record as JSON bytes (straight from storage when no projection or expand is
    asked)."""
    collection = await services.collections.get(name)
    readable = rule_condition(caller, collection, "read")
    _check_id(collection, record_id)
    check_projected_paths(collection, fields)
    plan = await plan_for(services.collections, collection, expand) if expand else ()
    db: Database | Connection = conn or services.db
    where, params = ("", ()) if readable == TRUE else _where(db.dialect, collection, readable)
    kept = collection.get_statements
    sql = kept.get(where)
    if sql is None:
        sql = f"SELECT {db.dialect.document_as_sent} FROM {collection.table} WHERE _id = ?"
        if where:
            sql += f" AND {where}"
        remember(kept, where, sql, KEPT_STATEMENTS)  # rules are few; a bound all the same
    row = await db.fetch_one(sql, record_id, *params)
    if row is None:
        raise not_found(collection, record_id)
    raw = row[0]
    if fields is None and not plan:
        return raw.encode() if isinstance(raw, str) else bytes(raw)
    record = orjson.loads(raw)
    await _expand(services, caller, plan, [record], conn)
    if fields is not None:
        record = with_expand(project(record, fields), record)
    return orjson.dumps(record)


async def _expand(
    services: Services,
    caller: Caller,
    plan: Sequence[ExpandNode],
    records: list[dict[str, Any]],
    conn: Connection | None,
) -> None:
    if not plan or not records:
        return
    settings = services.settings
    limits = ExpandLimits(settings.expand_max_back, settings.expand_max_records)
    async with _reading(services, conn) as reader:
        await expand_records(reader, caller, plan, records, limits)


@dataclass(frozen=True, slots=True)
class _Page:
    docs: list[Any]  # each stored document as the engine gives it (bytes or text; decoded)
    next_cursor: str | None
    total: int | None


@dataclass(frozen=True, slots=True)
class _ListStatement:
    """A list's SQL for one filter, sort and bound rule, kept by the collection: a list asked
    again (the same query string: a parsed query is kept too, http/routes/records.py) by the
    same caller (the same bound rule, data/access.py) is one dictionary lookup from its SQL."""

    filter: Condition  # held: the statement is found by their ids, so none can take them
    visible: Condition
    keys: list[SortKey]
    where: str  # the filter and the rule
    params: tuple[Any, ...]
    select: str  # SELECT {the document, the sort keys} FROM {table}
    ordered: str  # ORDER BY {the sort keys} LIMIT ?
    first_page: str  # {select} WHERE {where} {ordered}
    # a $search with no sort: by relevance, a rank computed over the matching rows (in a
    # subquery: {select} is over it, and its parameters come first)
    rank_params: tuple[Any, ...] = ()
    ranked: bool = False


RANKED_KEYS: list[SortKey] = [(("_rank",), False), (("_id",), False)]
FIELD_STEP = 1_000_000_000  # a rank: the field holding the text, then where in it


def _ranking(condition: Condition) -> Search | Near | None:
    """The $search (by relevance) or $near (nearest first) a list ranks by: one that every
    record listed satisfies (the filter, or a part of it all must hold)."""
    if isinstance(condition, Search | Near):
        return condition
    if isinstance(condition, And):
        return next((item for item in condition.items if isinstance(item, Search | Near)), None)
    return None


def _rank(
    dialect: Any, collection: Collection, ranked: Search | Near
) -> tuple[str, tuple[Any, ...]]:
    """Lower first. A $near: the distance in metres. A $search's relevance: the first of the
    index's fields holding the text, then how early in it (characters; both engines count
    alike)."""
    if isinstance(ranked, Near):
        params: list[Any] = []
        return collection.compiler(dialect).distance(ranked, params), tuple(params)
    search = ranked
    find = "instr({text}, ?)" if dialect.name == "sqlite" else "strpos({text}, ?)"
    parts = [
        f"{n * FIELD_STEP} + NULLIF({find.format(text=dialect.search_text(path))}, 0)"
        for n, path in enumerate(search.fields)
    ]
    needle = ascii_lower(search.text)
    rank = parts[0] if len(parts) == 1 else f"COALESCE({', '.join(parts)})"
    return rank, tuple(needle for _ in search.fields)


def _list_statement(
    dialect: Any, collection: Collection, query: ListQuery, visible: Condition
) -> _ListStatement:
    key = (id(query.filter.condition), id(visible), query.sort, query.fields)
    kept: _ListStatement | None = collection.list_statements.get(key)
    if kept is not None and kept.filter is query.filter.condition and kept.visible is visible:
        return kept
    condition = checked_filter(collection, query.filter)
    check_sort_paths(collection, query.sort)
    check_projected_paths(collection, query.fields)
    where, params = _where(dialect, collection, all_of(condition, visible))
    search = None if query.sort else _ranking(condition)
    if search is not None:
        rank, rank_params = _rank(dialect, collection, search)
        matching = f"SELECT data, _id, {rank} AS _rank FROM {collection.table} WHERE {where}"
        select = f"SELECT {dialect.document_as_sent}, _rank, _id FROM ({matching}) AS ranked"
        ordered = "ORDER BY _rank, _id LIMIT ?"
        statement = _ListStatement(
            query.filter.condition,
            visible,
            RANKED_KEYS,
            where,
            params,
            select,
            ordered,
            f"{select} {ordered}",
            rank_params,
            ranked=True,
        )
        remember(collection.list_statements, key, statement, KEPT_STATEMENTS)
        return statement
    keys = sort_keys(query)
    key_columns = ", ".join(dialect.field(path) for path, _ in keys)
    select = f"SELECT {dialect.document_as_sent}, {key_columns} FROM {collection.table}"
    ordered = f"ORDER BY {order_by(dialect, keys)} LIMIT ?"
    statement = _ListStatement(
        query.filter.condition,
        visible,
        keys,
        where,
        params,
        select,
        ordered,
        f"{select} WHERE {where} {ordered}",
    )
    remember(collection.list_statements, key, statement, KEPT_STATEMENTS)
    return statement


async def _list_page(
    services: Services,
    caller: Caller,
    name: str,
    query: ListQuery,
    conn: Connection | None,
) -> _Page:
    collection = await services.collections.get(name)
    visible = rule_condition(caller, collection, "list")
    dialect = services.db.dialect
    statement = _list_statement(dialect, collection, query, visible)
    keys, where, params = statement.keys, statement.where, statement.params
    sql, page_params = statement.first_page, (*statement.rank_params, *params)
    if query.cursor and statement.ranked:
        rank, last = decode_cursor(dialect, keys, query.cursor)
        after = "WHERE _rank > ? OR (_rank = ? AND _id > ?)"
        sql = f"{statement.select} {after} {statement.ordered}"
        page_params = (*page_params, rank, rank, last)
    elif query.cursor:
        values = decode_cursor(dialect, keys, query.cursor)
        cursor_params = list(params)
        after = after_cursor(dialect, keys, values, cursor_params)
        sql = f"{statement.select} WHERE {where} AND {after} {statement.ordered}"
        page_params = tuple(cursor_params)
    async with _reading(services, conn) as reader:
        rows = await reader.fetch_all(sql, *page_params, query.limit + 1)
        total = None
        if query.count:
            total = await reader.fetch_value(
                f"SELECT COUNT(*) FROM {collection.table} WHERE {where}", *params
            )
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    cursor = encode_cursor(keys, list(rows[-1][1:])) if more and rows else None
    return _Page([row[0] for row in rows], cursor, None if total is None else int(total))


async def list_records(
    services: Services,
    caller: Caller,
    name: str,
    query: ListQuery,
    *,
    conn: Connection | None = None,
) -> dict[str, Any]:
    plan: tuple[ExpandNode, ...] = ()
    if query.expand:
        collection = await services.collections.get(name)
        plan = await plan_for(services.collections, collection, query.expand)
    page = await _list_page(services, caller, name, query, conn)
    items = [json_column(doc) for doc in page.docs]
    await _expand(services, caller, plan, items, conn)
    if query.fields is not None:
        fields = query.fields
        items = [with_expand(project(item, fields), item) for item in items]
    result: dict[str, Any] = {"items": items, "next_cursor": page.next_cursor}
    if page.total is not None:
        result["total"] = page.total
    return result


async def list_records_json(
    services: Services, caller: Caller, name: str, query: ListQuery
) -> bytes:
    """`list_records` as the JSON the API answers with: where the engine keeps the text
    written (SQLite), the stored documents are spliced in as they are, not decoded and encoded
    again (unless the query projects fields or expands)."""
    if query.fields is not None or query.expand or not services.db.dialect.stored_text_is_sent:
        return orjson.dumps(await list_records(services, caller, name, query))
    page = await _list_page(services, caller, name, query, None)
    docs = [doc.encode() if isinstance(doc, str) else bytes(doc) for doc in page.docs]
    tail: dict[str, Any] = {"next_cursor": page.next_cursor}
    if page.total is not None:
        tail["total"] = page.total
    # '{"next_cursor":...}' without its opening brace, after the items
    return b'{"items":[' + b",".join(docs) + b"]," + orjson.dumps(tail)[1:]


@asynccontextmanager
async def _reading(services: Services, conn: Connection | None) -> AsyncIterator[Connection]:
    if conn is not None:
        yield conn
        return
    async with services.db.reader() as reader:
        yield reader


# -- update and delete --------------------------------------------------------------------


async def _locked_row(
    conn: Connection, caller: Caller, collection: Collection, record_id: str, allowed: Condition
) -> tuple[dict[str, Any], int, bool, bool]:
    """The stored record (row-locked), its version, whether `allowed` holds, if readable."""
    _check_id(collection, record_id)
    readable = (
        FALSE
        if is_locked(caller, collection, "read")
        else rule_condition(caller, collection, "read")
    )
    compiler = collection.compiler(conn.dialect)
    allowed_sql = compiler.compile(allowed)
    readable_sql = compiler.compile(readable)
    lock = " FOR UPDATE" if conn.dialect.name == "postgres" else ""
    row = await conn.fetch_one(
        f"SELECT data, _version, CASE WHEN {allowed_sql.sql} THEN 1 ELSE 0 END,"
        f" CASE WHEN {readable_sql.sql} THEN 1 ELSE 0 END"
        f" FROM {collection.table} WHERE _id = ?{lock}",
        *allowed_sql.params,
        *readable_sql.params,
        record_id,
    )
    if row is None:
        raise not_found(collection, record_id)
    return orjson.loads(row[0]), int(row[1]), bool(row[2]), bool(row[3])


def _check_version(collection: Collection, current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise ApiError(
            "records.version_conflict",
            409,
            f"the record is at version {current}, not {expected}; reload it and retry",
            {"current_version": current},
        )


async def update_record(
    services: Services,
    caller: Caller,
    name: str,
    record_id: str,
    body: Any,
    *,
    replace: bool,
    expected_version: int | None = None,
    conn: Connection | None = None,
) -> dict[str, Any]:
    """PUT replaces the user fields; PATCH merges fields or applies operators."""
    collection = await services.collections.get(name)
    if not isinstance(body, Mapping):
        raise ApiError("request.invalid_body", 400, "an update is a JSON object")
    expected = _expected_version(body, expected_version)
    changes = None if replace else parse_update(body)
    if collection.compiled_rules["update"] is None and not caller.is_admin:
        rule_condition(caller, collection, "update")  # raises: admins only
    gate = ContentGate(services, caller, collection, can_leave=conn is None)

    async def write() -> dict[str, Any]:
        async with _transaction(services, conn) as tx:
            stored, version, _, readable = await _locked_row(
                tx, caller, collection, record_id, TRUE
            )
            hidden = not readable and not caller.is_admin
            try:
                fields = next_fields(collection, stored, body, changes, services.settings)
            except ApiError:
                if hidden:  # the problem would tell what the hidden record holds
                    raise not_found(collection, record_id) from None
                raise
            allowed = rule_condition(caller, collection, "update", fields)
            if not evaluate(allowed, stored):
                if hidden:
                    raise not_found(collection, record_id)
                raise denied(caller, collection, "update")
            _check_version(collection, version, expected)
            return await write_update(services, tx, collection, stored, fields, caller, gate)

    record = await gated(gate, write)
    services.db.note_writes(collection.table, 1)
    return record


def next_fields(
    collection: Collection,
    stored: Mapping[str, Any],
    body: Mapping[str, Any],
    changes: tuple[Change, ...] | None,
    limits: RecordLimits,
) -> dict[str, Any]:
    if changes is None:
        extra = set(body) & {"_id", "_owner", "_created", "_updated"}
        if extra:
            raise ApiError("records.invalid", 400, f"system fields {sorted(extra)} cannot be set")
        return _validate(collection, {k: v for k, v in body.items() if k != "_version"}, limits)
    return _validate(collection, apply_update(_user_part(stored), changes), limits)


async def write_update(
    services: Services,
    conn: Connection,
    collection: Collection,
    stored: Mapping[str, Any],
    fields: dict[str, Any],
    caller: Caller,
    gate: ContentGate | None = None,
) -> dict[str, Any]:
    """Write the next version; `gate` checks the text it brings (content_check fields)."""
    record = {key: stored[key] for key in ("_id", "_owner", "_created")}
    record["_updated"] = isoformat(services.clock.now())
    record["_version"] = int(stored["_version"]) + 1
    record.update(fields)
    event = RecordEvent(collection.name, "update", record, dict(stored), caller)
    record = await before_write(services, conn, collection, event)
    if gate is not None:
        gate.admit(stored, record)
    await check_references(conn, services.collections, collection, [record], caller, stored)
    await settle_files(services, conn, collection, [record], caller, stored)
    try:
        changed = await conn.execute(
            f"UPDATE {collection.table} SET data = {conn.dialect.json_param()}, _updated = ?,"
            " _version = ? WHERE _id = ? AND _version = ?",
            orjson.dumps(record).decode(),
            record["_updated"],
            record["_version"],
            record["_id"],
            stored["_version"],
        )
    except IntegrityViolation as exc:
        raise _integrity(collection, exc, record["_id"]) from None
    if changed != 1:
        _check_version(collection, -1, int(stored["_version"]))
    await after_write(services, conn, collection, event)
    return record


async def delete_record(
    services: Services,
    caller: Caller,
    name: str,
    record_id: str,
    expected_version: int | None = None,
    *,
    conn: Connection | None = None,
) -> None:
    collection = await services.collections.get(name)
    deletable = rule_condition(caller, collection, "delete")
    async with _transaction(services, conn) as tx:
        stored, version, allowed, readable = await _locked_row(
            tx, caller, collection, record_id, deletable
        )
        if not allowed:
            if readable or caller.is_admin:
                raise denied(caller, collection, "delete")
            raise not_found(collection, record_id)
        _check_version(collection, version, expected_version)
        event = RecordEvent(collection.name, "delete", stored, None, caller)
        await before_write(services, tx, collection, event)
        await tx.execute(f"DELETE FROM {collection.table} WHERE _id = ?", record_id)
        await release_files(services, tx, collection, [stored])
        await after_write(services, tx, collection, event)
    services.db.note_writes(collection.table, 1)

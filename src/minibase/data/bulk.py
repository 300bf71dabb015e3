"""Update or delete many records by filter, bounded and all-or-nothing.

Only records the caller may read (list rule) are candidates; if more than `bulk_max_records`
match, nothing changes and the caller is told to narrow the filter. The update rule is checked
per record against the record as it will be, so `body.*` means the same as for one update.
"""

from __future__ import annotations

from typing import Any

import orjson

from minibase.auth.caller import Caller
from minibase.data.access import rule_condition
from minibase.data.content_rule import ContentGate, gated
from minibase.data.file_refs import release_files
from minibase.data.known_paths import checked_filter
from minibase.data.listing import parse_filter_value
from minibase.data.records import after_write, before_write, next_fields, write_update
from minibase.data.updates import parse_update
from minibase.errors import ApiError
from minibase.hooks import RecordEvent
from minibase.rules.conditions import Condition, all_of, evaluate
from minibase.rules.filters import Filter
from minibase.services import Services
from minibase.store.collections import Collection
from minibase.store.database import Connection

_CHUNK = 200


async def _matching(
    services: Services, conn: Connection, collection: Collection, condition: Condition
) -> list[Any]:
    limit = services.settings.bulk_max_records
    compiled = collection.compiler(conn.dialect).compile(condition)
    lock = " FOR UPDATE" if conn.dialect.name == "postgres" else ""
    rows = await conn.fetch_all(
        f"SELECT _id, data FROM {collection.table} WHERE {compiled.sql} ORDER BY _id LIMIT ?{lock}",
        *compiled.params,
        limit + 1,
    )
    if len(rows) > limit:
        raise ApiError(
            "records.bulk_too_large",
            400,
            f"the filter matches more than {limit} records; narrow it or work in pages",
            {"limit": limit},
        )
    return rows


def _filter(body: Any) -> Filter:
    if not isinstance(body, dict) or "filter" not in body:
        raise ApiError("request.invalid_body", 400, 'expected {"filter": {...}, ...}')
    return parse_filter_value(body["filter"])


async def update_by_filter(
    services: Services, caller: Caller, name: str, body: Any
) -> dict[str, int]:
    collection = await services.collections.get(name)
    where = _filter(body)
    changes = parse_update(body.get("update"))
    visible = rule_condition(caller, collection, "list")
    condition = checked_filter(collection, where)
    if collection.compiled_rules["update"] is None and not caller.is_admin:
        rule_condition(caller, collection, "update")  # raises: admins only
    gate = ContentGate(services, caller, collection, can_leave=True)

    async def write() -> dict[str, int]:
        updated = skipped = 0
        async with services.db.transaction() as conn:
            rows = await _matching(services, conn, collection, all_of(condition, visible))
            for _, raw in rows:
                stored = orjson.loads(raw)
                fields = next_fields(collection, stored, {}, changes, services.settings)
                if not evaluate(rule_condition(caller, collection, "update", fields), stored):
                    skipped += 1
                    continue
                await write_update(services, conn, collection, stored, fields, caller, gate)
                updated += 1
        return {"matched": len(rows), "updated": updated, "skipped": skipped}

    counts = await gated(gate, write)
    services.db.note_writes(collection.table, counts["updated"])
    return counts


async def delete_by_filter(
    services: Services, caller: Caller, name: str, body: Any
) -> dict[str, int]:
    collection = await services.collections.get(name)
    where = _filter(body)
    visible = rule_condition(caller, collection, "list")
    deletable = rule_condition(caller, collection, "delete")
    matching = all_of(checked_filter(collection, where), visible, deletable)
    async with services.db.transaction() as conn:
        rows = await _matching(services, conn, collection, matching)
        ids = [row[0] for row in rows]
        events = [
            RecordEvent(collection.name, "delete", orjson.loads(raw), None, caller)
            for _, raw in rows
        ]
        for event in events:
            await before_write(services, conn, collection, event)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            marks = ", ".join("?" for _ in chunk)
            await conn.execute(f"DELETE FROM {collection.table} WHERE _id IN ({marks})", *chunk)
        await release_files(services, conn, collection, [orjson.loads(raw) for _, raw in rows])
        for event in events:
            await after_write(services, conn, collection, event)
    services.db.note_writes(collection.table, len(ids))
    return {"deleted": len(ids)}

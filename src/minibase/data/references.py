"""Reference fields must point at records that exist and that the writer may read, checked in
the writing transaction.

A record the writer's read rule hides is refused exactly like a missing one: otherwise a
reference would tell a user which hidden ids exist. Only the references a write brings are
checked, so a record whose target became hidden since can still change its other fields.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from minibase.auth.caller import Caller
from minibase.data.access import is_locked, rule_condition
from minibase.errors import ApiError
from minibase.rules.conditions import TRUE
from minibase.store.collections import Collection
from minibase.store.database import Connection
from minibase.store.registry import CollectionRegistry

_CHUNK = 200


def values_at(node: Any, path: Sequence[str]) -> Iterator[Any]:
    """Values at a schema path; "*" walks every item of an array."""
    if not path:
        if node is not None:
            yield node
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(node, list):
            for item in node:
                yield from values_at(item, rest)
    elif isinstance(node, Mapping) and head in node:
        yield from values_at(node[head], rest)


async def check_references(
    conn: Connection,
    registry: CollectionRegistry,
    collection: Collection,
    records: Sequence[Mapping[str, Any]],
    caller: Caller,
    previous: Mapping[str, Any] | None = None,
) -> None:
    """`previous`: the stored version an update replaces (its references were checked)."""
    for path, target_name in collection.schema.references():
        wanted = {value for record in records for value in values_at(record, path)}
        if previous is not None:
            wanted -= set(values_at(previous, path))
        if not wanted:
            continue
        target = (
            collection
            if target_name.lower() == collection.name.lower()
            else (registry.find(target_name))
        )
        own = {record["_id"] for record in records} if target is collection else set()
        missing = sorted(wanted - own)
        found: set[str] = set()
        if target is not None and not is_locked(caller, target, "read"):
            found = await _readable_ids(conn, target, missing, caller)
        absent = [value for value in missing if value not in found]
        if absent:
            field = ".".join(segment for segment in path if segment != "*")
            raise ApiError(
                "records.reference_not_found",
                400,
                f"{field} points at {target_name} records that do not exist: {absent[:5]}",
                {"field": field, "missing": absent[:20]},
            )


async def _readable_ids(
    conn: Connection, target: Collection, ids: Sequence[str], caller: Caller
) -> set[str]:
    readable = rule_condition(caller, target, "read")
    rule_sql, rule_params = "", ()
    if readable != TRUE:
        compiled = target.compiler(conn.dialect).compile(readable)
        rule_sql, rule_params = f" AND {compiled.sql}", tuple(compiled.params)
    found: set[str] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ", ".join("?" for _ in chunk)
        rows = await conn.fetch_all(
            f"SELECT _id FROM {target.table} WHERE _id IN ({marks}){rule_sql}",
            *chunk,
            *rule_params,
        )
        found.update(row[0] for row in rows)
    return found

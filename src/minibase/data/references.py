"""Reference fields must point at records that exist, checked in the writing transaction."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from minibase.errors import ApiError
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
) -> None:
    for path, target_name in collection.schema.references():
        wanted = {value for record in records for value in values_at(record, path)}
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
        for start in range(0, len(missing), _CHUNK):
            chunk = missing[start : start + _CHUNK]
            if target is not None:
                marks = ", ".join("?" for _ in chunk)
                rows = await conn.fetch_all(
                    f"SELECT _id FROM {target.table} WHERE _id IN ({marks})", *chunk
                )
                found.update(row[0] for row in rows)
        absent = [value for value in missing if value not in found]
        if absent:
            field = ".".join(segment for segment in path if segment != "*")
            raise ApiError(
                "records.reference_not_found",
                400,
                f"{field} points at {target_name} records that do not exist: {absent[:5]}",
                {"field": field, "missing": absent[:20]},
            )

"""Expand: the records that a page's references point at, and those that point back at it,
added to each record under `_expand` (PocketBase's `expand`).

    GET /api/collections/posts/records?expand=author,comments_via_post.author
    {"items": [{"_id": "p1", "author": "u7", ...,
                "_expand": {"author": {"_id": "u7", ...},
                            "comments_via_post": [{"_id": "c1", ..., "_expand": {...}}]}}]}

One statement per step for the whole page, never one per record: the ids of every record the
step starts from go in as one parameter. Each step reads through its collection's rule, as a
list or a read would: the read rule for a reference, the list rule for a back-relation (and
admins pass all). What a rule hides, or what no longer exists, is simply absent: the entry
left out, or left out of its list; a record with no entry has no `_expand`.

A back-relation brings at most `expand_max_back` records for each record, in `_id` order (byte
order on both engines); an answer at most `expand_max_records` in all, past which the request
is refused (400 `records.expand_too_large`) rather than cut short without a word.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from minibase.auth.caller import Caller
from minibase.data.access import is_locked, rule_condition
from minibase.data.expand_paths import ExpandNode, Step, plan_expand
from minibase.data.references import values_at
from minibase.errors import ApiError
from minibase.rules.conditions import TRUE, Condition
from minibase.store.collections import Collection
from minibase.store.database import Connection, json_column
from minibase.store.registry import CollectionRegistry

EXPAND = "_expand"
Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ExpandLimits:
    max_back: int  # records one back-relation brings for each record (expand_max_back)
    max_records: int  # records one answer's expand brings in all (expand_max_records)


async def plan_for(
    registry: CollectionRegistry, root: Collection, paths: Sequence[str]
) -> tuple[ExpandNode, ...]:
    """The steps of `paths` from `root`, checked against the collections as they are now."""
    if not paths:
        return ()
    return plan_expand(await registry.all(), root, paths)


async def expand_records(
    conn: Connection,
    caller: Caller,
    plan: Sequence[ExpandNode],
    records: Sequence[Record],
    limits: ExpandLimits,
) -> None:
    """Add `_expand` to the records (decoded documents) that have something to show."""
    reading = _Reading(conn, caller, limits)
    for node in plan:
        await reading.expand(node, records)


class _Reading:
    """One expand: its connection, its caller, and the records it may still bring."""

    def __init__(self, conn: Connection, caller: Caller, limits: ExpandLimits) -> None:
        self.conn = conn
        self.caller = caller
        self.limits = limits
        self.left = limits.max_records

    async def expand(self, node: ExpandNode, parents: Sequence[Record]) -> None:
        step = node.step
        action = "list" if step.back else "read"
        if not parents or is_locked(self.caller, step.source, action):
            return  # admins only: nothing this caller may see
        visible = rule_condition(self.caller, step.source, action)
        if step.back:
            found = await self._pointing_back(step, parents, visible)
        else:
            found = await self._referenced(step, parents, visible)
        for then in node.then.values():
            await self.expand(then, found)

    async def _referenced(
        self, step: Step, parents: Sequence[Record], visible: Condition
    ) -> list[Record]:
        """The records the parents' reference field names, by their ids."""
        wanted = {value: None for parent in parents for value in _ids_at(parent, step.path)}
        if not wanted:
            return []
        rule, params = self._rule(step.source, visible)
        rows = await self.conn.fetch_all(
            f"SELECT data FROM {step.source.table}"
            f" WHERE _id IN ({self.conn.dialect.json_texts()}){rule} LIMIT ?",
            orjson.dumps(list(wanted)).decode(),
            *params,
            self.left + 1,
        )
        self._spend(len(rows))
        by_id: dict[str, Record] = {}
        for row in rows:
            record = json_column(row[0])
            by_id[record["_id"]] = record
        for parent in parents:
            shown = [by_id[value] for value in _ids_at(parent, step.path) if value in by_id]
            if shown:
                _show(parent, step.name, shown if step.many else shown[0])
        return list(by_id.values())

    async def _pointing_back(
        self, step: Step, parents: Sequence[Record], visible: Condition
    ) -> list[Record]:
        """The records of the step's collection whose reference field names a parent: the
        first `max_back` of each parent's in `_id` order (a window over the parents)."""
        dialect = self.conn.dialect
        ids = dialect.reference_values(step.path)
        rule, params = self._rule(step.source, visible)
        table, order = step.source.table, dialect.byte_order
        linked = f"SELECT {ids.text} AS _parent, {table}._id AS _id, {table}.data AS data"
        once = ""
        if ids.joins:  # an array may name the parent twice: the record comes once
            linked += f", ROW_NUMBER() OVER (PARTITION BY {ids.text}, {table}._id) AS _copy"
            once = " WHERE _copy = 1"
        rows = await self.conn.fetch_all(
            "SELECT _parent, data FROM (SELECT _parent, _id, data, ROW_NUMBER() OVER"
            f" (PARTITION BY _parent ORDER BY _id{order}) AS _rank"
            f" FROM ({linked} FROM {table}{ids.joins} WHERE {ids.among}{rule}) AS linked{once})"
            f" AS ranked WHERE _rank <= ? ORDER BY _id{order} LIMIT ?",
            orjson.dumps(list({parent["_id"]: None for parent in parents})).decode(),
            *params,
            self.limits.max_back,
            self.left + 1,
        )
        self._spend(len(rows))
        by_parent: dict[str, list[Record]] = {}
        found = []
        for parent_id_value, data in rows:
            record = json_column(data)
            by_parent.setdefault(parent_id_value, []).append(record)
            found.append(record)
        for parent in parents:
            shown = by_parent.get(parent["_id"])
            if shown:
                _show(parent, step.name, shown)
        return found

    def _rule(self, collection: Collection, visible: Condition) -> tuple[str, tuple[Any, ...]]:
        if visible == TRUE:
            return "", ()
        compiled = collection.compiler(self.conn.dialect).compile(visible)
        return f" AND ({compiled.sql})", tuple(compiled.params)

    def _spend(self, rows: int) -> None:
        if rows > self.left:
            most = self.limits.max_records
            raise ApiError(
                "records.expand_too_large",
                400,
                f"the expand brings more than {most} records: expand fewer paths, or list"
                " fewer records a page (limit)",
                {"limit": "expand_max_records", "max": most},
            )
        self.left -= rows


def _ids_at(record: Mapping[str, Any], path: Sequence[str]) -> list[str]:
    return [value for value in values_at(record, path) if isinstance(value, str)]


def _show(parent: Record, name: str, value: Any) -> None:
    parent.setdefault(EXPAND, {})[name] = value


def with_expand(shown: Record, record: Mapping[str, Any]) -> Record:
    """A projection of `record` (fields=...) keeps what was expanded of it."""
    if EXPAND in record:
        shown[EXPAND] = record[EXPAND]
    return shown

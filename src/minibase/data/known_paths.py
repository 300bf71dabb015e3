"""Filters, sorts, projections and rules name paths a record can hold.

A path the collection's schema rules out — a field that a closed object (`additional: false`)
does not declare, or a step into a string, a number or an array by name — matches no record,
so a typo would answer like empty data (a filter or a rule that never matches, a projection
that leaves the field out). It is refused instead (400), naming the path and the closest
declared field. System fields (`_id`, `_owner`, ...) are always there; undeclared fields of
open objects may be there, so they pass.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from minibase.data.listing import SortKey
from minibase.errors import ApiError
from minibase.rules.conditions import And, Condition, FieldPath, Near, Not, Or, Search, WithinBox
from minibase.rules.filters import Filter
from minibase.rules.presets import ACTIONS
from minibase.store.collections import Collection
from minibase.store.dialect import SYSTEM_COLUMNS


@dataclass(frozen=True, slots=True)
class StrayPath:
    """A path no record of the collection holds, and the declared one it may have meant."""

    field: str
    did_you_mean: str | None
    message: str  # "scores has no field 'scroe' (did you mean 'score'?)"

    def details(self) -> dict[str, Any]:
        return {"field": self.field, "did_you_mean": self.did_you_mean}


def check_filter_paths(collection: Collection, paths: Iterable[FieldPath]) -> None:
    """400 `records.invalid_filter` for the first path the filter names that no record holds."""
    for path in sorted(paths):
        _refuse(stray_path(collection, path), "records.invalid_filter")


def checked_filter(collection: Collection, where: Filter) -> Condition:
    """A filter's condition for this collection: every path it names checked (as
    `check_filter_paths`), each `$search` bound to the collection's search index and each
    `$near` / `$geoWithin` to its geo index (400 `records.invalid_filter` without one)."""
    check_filter_paths(collection, where.paths)
    return _bind_search(collection, where.condition)


def _bind_search(collection: Collection, condition: Condition) -> Condition:
    if isinstance(condition, Search):
        index = collection.search_index
        if index is None:
            raise ApiError(
                "records.invalid_filter",
                400,
                f"{collection.name} has no search index for $search: declare one, e.g."
                ' {"fields": ["title", "body"], "search": true} in its indexes',
            )
        return Search(condition.text, index.paths, collection.id)
    if isinstance(condition, Near | WithinBox):
        if collection.geo_index(condition.path) is None:
            name = ".".join(condition.path)
            raise ApiError(
                "records.invalid_filter",
                400,
                f"{collection.name} has no geo index on {name} for $near and $geoWithin:"
                f' declare one, e.g. {{"fields": ["{name}"], "geo": true}} in its indexes',
            )
        return replace(condition, collection_id=collection.id)
    if isinstance(condition, And | Or):
        items = tuple(_bind_search(collection, item) for item in condition.items)
        return type(condition)(items) if items != condition.items else condition
    if isinstance(condition, Not):
        item = _bind_search(collection, condition.item)
        return Not(item) if item is not condition.item else condition
    return condition


def check_sort_paths(collection: Collection, sort: Sequence[SortKey]) -> None:
    """400 `records.invalid_sort` for the first sort key that no record holds."""
    for path, _ in sort:
        _refuse(stray_path(collection, path), "records.invalid_sort")


def check_projected_paths(collection: Collection, fields: Sequence[FieldPath] | None) -> None:
    """400 `request.invalid_query` (the code of every other bad `fields`) for the first
    projected path that no record holds."""
    for path in fields or ():
        _refuse(stray_path(collection, path), "request.invalid_query")


def check_rule_paths(collection: Collection) -> None:
    """400 `collections.invalid_rule` for the first `doc.*` or `body.*` path a rule reads that
    no record holds: such a rule would never match (or always, under `!=`)."""
    for action in ACTIONS:
        rule = collection.compiled_rules[action]
        for path in rule.record_paths() if rule is not None else ():
            stray = stray_path(collection, path.fields)
            if stray is None:
                continue
            message = f"{path} at {path.position}: {stray.message}"
            shown = {"action": action, "position": path.position, "message": message}
            raise ApiError(
                "collections.invalid_rule",
                400,
                f"rule {action}: {message}",
                {"rule": {**shown, **stray.details()}},
            )


def stray_path(collection: Collection, path: FieldPath) -> StrayPath | None:
    """What is wrong with a path no record holds; None when a record may hold it."""
    if path[0] in SYSTEM_COLUMNS:
        return None
    stray = collection.schema.stray(path)
    if stray is None:
        return None
    index, names = stray
    names = tuple(sorted(names))  # the definition's order is not kept by every engine
    candidates = (*names, *SYSTEM_COLUMNS) if index == 0 else names
    close = difflib.get_close_matches(path[index], candidates, n=1)
    suggestion = ".".join((*path[:index], close[0], *path[index + 1 :])) if close else None
    field = ".".join(path)
    message = f"{collection.name} has no field {field!r}"
    if suggestion is not None:
        message += f" (did you mean {suggestion!r}?)"
    else:
        message += f": {_what_is(collection, path[:index], names)}"
    return StrayPath(field, suggestion, message)


def _refuse(stray: StrayPath | None, code: str) -> None:
    if stray is not None:
        raise ApiError(code, 400, stray.message, stray.details())


def _what_is(collection: Collection, prefix: FieldPath, names: Sequence[str]) -> str:
    """What the schema holds at `prefix`, where the path went astray."""
    name = ".".join(prefix)
    type_name = collection.schema.type_at(prefix) if prefix else "object"
    if type_name in ("object", "geopoint"):
        where = f"{name} holds" if prefix else "its fields are"
        return f"{where} {', '.join(names)}" if names else f"{name or 'it'} declares no fields"
    if type_name == "array":
        return f"{name} is an array: name an item by its position, as in {name}.0"
    type_name = type_name or "value"
    article = "an" if type_name[0] in "aeiou" else "a"
    return f"{name} is {article} {type_name}, with no fields"

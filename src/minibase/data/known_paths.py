"""Filters and sorts name paths a record can hold.

A path the collection's schema rules out — a field that a closed object (`additional: false`)
does not declare, or a step into a string, a number or an array by name — matches no record,
so a typo would answer like empty data. It is refused instead (400), naming the path and the
closest declared field. System fields (`_id`, `_owner`, ...) are always there; undeclared
fields of open objects may be there, so they pass.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from minibase.data.listing import SortKey
from minibase.errors import ApiError
from minibase.rules.conditions import Condition, FieldPath, paths_of
from minibase.store.collections import Collection
from minibase.store.dialect import SYSTEM_COLUMNS


def check_filter_paths(collection: Collection, condition: Condition) -> None:
    """400 `records.invalid_filter` for the first path the filter reads that no record holds."""
    for path in sorted(paths_of(condition)):
        _check(collection, path, "records.invalid_filter")


def check_sort_paths(collection: Collection, sort: Sequence[SortKey]) -> None:
    """400 `records.invalid_sort` for the first sort key that no record holds."""
    for path, _ in sort:
        _check(collection, path, "records.invalid_sort")


def _check(collection: Collection, path: FieldPath, code: str) -> None:
    if path[0] in SYSTEM_COLUMNS:
        return
    stray = collection.schema.stray(path)
    if stray is None:
        return
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
    raise ApiError(code, 400, message, {"field": field, "did_you_mean": suggestion})


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

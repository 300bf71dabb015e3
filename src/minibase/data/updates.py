"""Partial updates: a plain object merges top-level fields; operators change parts atomically.

    {"title": "new"}                                   # merge ($set of top-level fields)
    {"$set": {"meta.views": 0}, "$inc": {"likes": 1},
     "$unset": {"draft": true}, "$push": {"tags": "x"}, "$pull": {"tags": "y"}}

The update is applied to the stored document inside the write transaction (row locked), then
the result is validated as a whole, so an operator can never produce a record the schema refuses.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from minibase.client_json import INT64_MAX, INT64_MIN
from minibase.errors import ApiError
from minibase.rules.conditions import scalar_equal, scalar_kind
from minibase.rules.filters import FilterError, parse_path

OPERATORS = ("$set", "$unset", "$inc", "$push", "$pull")
MAX_PUSH = 100


def invalid_update(message: str, at: str | None = None) -> ApiError:
    return ApiError("records.invalid_update", 400, message, {"at": at} if at else None)


@dataclass(frozen=True, slots=True)
class Change:
    op: str
    path: tuple[str, ...]
    value: Any


def parse_update(body: Any) -> tuple[Change, ...]:
    """Check the update document's shape; nothing is applied yet."""
    if not isinstance(body, Mapping) or not body:
        raise invalid_update("an update is a non-empty JSON object")
    keys = [key for key in body if key != "_version"]
    operators = [key for key in keys if key.startswith("$")]
    if operators and len(operators) != len(keys):
        raise invalid_update("use either operators ($set, $inc, ...) or plain fields, not both")
    if not operators:
        return tuple(Change("$set", _path(key, key), body[key]) for key in keys)
    changes: list[Change] = []
    for op in operators:
        if op not in OPERATORS:
            raise invalid_update(f"unknown operator {op}; use one of {', '.join(OPERATORS)}", op)
        fields = body[op]
        if not isinstance(fields, Mapping) or not fields:
            raise invalid_update(f"{op} takes a non-empty object of field paths", op)
        for key, value in fields.items():
            changes.append(Change(op, _path(key, f"{op}.{key}"), _operand(op, value, key)))
    _check_disjoint(changes)
    return tuple(changes)


def _path(text: str, at: str) -> tuple[str, ...]:
    try:
        path = parse_path(text, at)
    except FilterError as exc:
        raise invalid_update(exc.message, at) from None
    if path[0].startswith("_"):
        raise invalid_update(f"system field {path[0]} cannot be updated", at)
    if any(segment.isdigit() for segment in path):
        raise invalid_update("array elements are changed with $push and $pull", at)
    return path


def _operand(op: str, value: Any, key: str) -> Any:
    if op == "$inc" and (scalar_kind(value) != "number"):
        raise invalid_update(f"$inc.{key} must be a number", f"$inc.{key}")
    if op == "$push":
        if isinstance(value, Mapping) and set(value) == {"$each"}:
            items = value["$each"]
            if not isinstance(items, list) or len(items) > MAX_PUSH:
                raise invalid_update(f"$each takes a list of at most {MAX_PUSH}", f"$push.{key}")
            return list(items)
        return [value]
    if op == "$pull":
        if isinstance(value, Mapping) and set(value) == {"$in"} and isinstance(value["$in"], list):
            values = value["$in"]
        else:
            values = [value]
        if not all(scalar_kind(item) for item in values):
            raise invalid_update("$pull removes scalar values", f"$pull.{key}")
        return values
    return value


def _check_disjoint(changes: list[Change]) -> None:
    seen: list[tuple[str, ...]] = []
    for change in changes:
        for other in seen:
            shorter = min(len(other), len(change.path))
            if other[:shorter] == change.path[:shorter]:
                raise invalid_update(
                    f"{'.'.join(change.path)} and {'.'.join(other)} overlap in one update"
                )
        seen.append(change.path)


def apply_update(document: Mapping[str, Any], changes: tuple[Change, ...]) -> dict[str, Any]:
    """The document after the changes (a copy); invalid_update if a path cannot take them."""
    result = copy.deepcopy(dict(document))
    for change in changes:
        parent, leaf = _parent(result, change.path, create=change.op != "$unset")
        if parent is None:
            continue
        at = ".".join(change.path)
        current = parent.get(leaf) if isinstance(parent, dict) else None
        if change.op == "$set":
            parent[leaf] = copy.deepcopy(change.value)
        elif change.op == "$unset":
            parent.pop(leaf, None)
        elif change.op == "$inc":
            if current is None:
                parent[leaf] = change.value
            elif scalar_kind(current) != "number":
                raise invalid_update(f"$inc: {at} is not a number", at)
            else:
                parent[leaf] = _sum(current, change.value, at)
        elif change.op == "$push":
            if current is None:
                parent[leaf] = list(change.value)
            elif not isinstance(current, list):
                raise invalid_update(f"$push: {at} is not an array", at)
            else:
                current.extend(change.value)
        elif change.op == "$pull":
            if isinstance(current, list):
                parent[leaf] = [
                    item
                    for item in current
                    if not any(scalar_equal(item, value) for value in change.value)
                ]
            elif current is not None:
                raise invalid_update(f"$pull: {at} is not an array", at)
    return result


def _sum(current: int | float, step: int | float, at: str) -> int | float:
    """current + step, refused where no engine could store it (Python ints have no bound)."""
    total = current + step
    if isinstance(total, int) and not INT64_MIN <= total <= INT64_MAX:
        raise invalid_update(f"$inc: {at} would leave the 64-bit integer range", at)
    if isinstance(total, float) and not math.isfinite(total):
        raise invalid_update(f"$inc: {at} would not be a finite number", at)
    return total


def _parent(
    document: dict[str, Any], path: tuple[str, ...], *, create: bool
) -> tuple[dict[str, Any] | None, str]:
    """The object holding the last segment, creating objects on the way if asked."""
    node: Any = document
    for depth, segment in enumerate(path[:-1]):
        child = node.get(segment) if isinstance(node, dict) else None
        if child is None:
            if not create:
                return None, path[-1]
            child = {}
            node[segment] = child
        if not isinstance(child, dict):
            at = ".".join(path[: depth + 1])
            raise invalid_update(f"{at} is not an object, so {'.'.join(path)} cannot be set", at)
        node = child
    return node, path[-1]

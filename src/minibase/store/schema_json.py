"""Values that no field declares: checked as plain JSON, iteratively, with bounded nesting.

Hostile nesting meets MAX_DEPTH instead of Python's recursion limit.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

from minibase.client_json import INT64_MAX, INT64_MIN
from minibase.store.schema_problems import (
    MAX_DEPTH,
    NUL_MESSAGE,
    Problem,
    join,
    report,
    report_int64,
)


def check_json(
    value: Any, level: int, parent: str, key: str | int, problems: list[Problem]
) -> None:
    """A schemaless value: JSON types only, finite numbers, 64-bit integers, bounded nesting."""
    pending: list[tuple[Any, int, str, str | int]] = [(value, level, parent, key)]
    while pending:
        value, level, parent, key = pending.pop()
        if isinstance(value, str):
            if "\x00" in value:
                report(problems, parent, key, "format", NUL_MESSAGE)
            continue
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int):
            if not INT64_MIN <= value <= INT64_MAX:
                report_int64(problems, parent, key, value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                report(problems, parent, key, "format", "must be a finite number")
        elif not isinstance(value, dict | list):
            report(problems, parent, key, "type", "expected a JSON value")
        elif level > MAX_DEPTH:
            report(problems, parent, key, "depth", f"nested deeper than {MAX_DEPTH} levels")
        else:
            at = join(parent, key)
            children = value.items() if isinstance(value, dict) else enumerate(value)
            for child_key, child in reversed(list(children)):  # popped in document order
                if isinstance(child_key, str) and "\x00" in child_key:
                    report(problems, at, child_key, "format", NUL_MESSAGE)
                elif isinstance(child_key, str) or isinstance(value, list):
                    pending.append((child, level + 1, at, child_key))
                else:
                    report(problems, at, str(child_key), "type", "field names must be strings")


def json_identity(value: Any) -> Hashable:
    """Equal for equal JSON values (1 == 1.0, true != 1, key order ignored): for `unique`."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, list):
        return ("l", tuple(json_identity(item) for item in value))
    if isinstance(value, dict):
        return ("d", frozenset((key, json_identity(item)) for key, item in value.items()))
    return ("z", None)

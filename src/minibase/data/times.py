"""Datetime values in filters, normalized like stored ones.

Stored datetimes are fixed-width UTC text, so they compare correctly as strings; a filter value
such as "2026-01-01T08:00:00+08:00" must be brought to that form before it is compared.
"""

from __future__ import annotations

from dataclasses import replace

from minibase.rules.conditions import And, Compare, Condition, In, Not, Or, Scalar
from minibase.store.collections import Collection
from minibase.store.schema_fields import normalize_time

SYSTEM_TIMES = frozenset({("_created",), ("_updated",)})


def _normalized(value: Scalar) -> Scalar:
    if isinstance(value, str):
        return normalize_time(value) or value
    return value


def normalize_times(condition: Condition, collection: Collection) -> Condition:
    """The condition with every string compared to a datetime field in stored form."""

    def is_time(path: tuple[str, ...]) -> bool:
        return path in SYSTEM_TIMES or collection.schema.type_at(path) == "datetime"

    def walk(node: Condition) -> Condition:
        if isinstance(node, Compare) and is_time(node.path):
            return replace(node, value=_normalized(node.value))
        if isinstance(node, In) and is_time(node.path):
            return replace(node, values=tuple(_normalized(v) for v in node.values))
        if isinstance(node, And | Or):
            return type(node)(tuple(walk(item) for item in node.items))
        if isinstance(node, Not):
            return Not(walk(node.item))
        return node

    return walk(condition)

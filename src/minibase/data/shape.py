"""The shape limits of a record: field-name length, fields per object, keys in all.

A body under max_body_bytes can still hold a 100,000-character name or 50,000 keys, which
every later read, index and hook pays for. One walk over the user fields, before the schema,
stops at the first limit passed (nesting past the schema's depth is left to the schema).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from minibase.errors import ApiError
from minibase.store.schema_problems import MAX_DEPTH

# (parent, key): the path of an object, joined into text only for an error
_At = tuple["_At", str | int] | None
_CONTAINERS = (dict, list)


class RecordLimits(Protocol):
    """The settings read here (Settings has them)."""

    @property
    def record_max_name_length(self) -> int: ...

    @property
    def record_max_fields_per_object(self) -> int: ...

    @property
    def record_max_keys(self) -> int: ...


def check_shape(fields: Mapping[str, Any], limits: RecordLimits, index: int | None = None) -> None:
    """Raise `records.limit_exceeded` naming the limit, its value and the object's path."""
    max_name = limits.record_max_name_length
    max_fields = limits.record_max_fields_per_object
    max_keys = limits.record_max_keys
    keys = 0
    pending: list[tuple[Any, _At, int]] = [(fields, None, 1)]
    while pending:
        node, at, level = pending.pop()
        if isinstance(node, dict):
            count = len(node)
            if count > max_fields:
                where = _where(at)
                message = f"{where} has {count} fields; an object may have {max_fields}"
                raise _exceeded("record_max_fields_per_object", max_fields, at, message, index)
            keys += count
            if keys > max_keys:
                message = f"the record has more than {max_keys} fields in all its objects"
                raise _exceeded("record_max_keys", max_keys, None, message, index)
            if _longest_name(node) > max_name:
                _refuse_name(node, max_name, at, index)
            children: Any = node.items()
        else:
            children = enumerate(node)
        if level < MAX_DEPTH:  # deeper nesting is the schema's to refuse
            for key, child in children:
                if child and isinstance(child, _CONTAINERS):
                    pending.append((child, (at, key), level + 1))


def _longest_name(node: dict[Any, Any]) -> int:
    try:
        return max(map(len, node), default=0)
    except TypeError:  # a name that is not text (from Python code): the schema refuses it
        return max((len(key) for key in node if isinstance(key, str)), default=0)


def _refuse_name(node: dict[Any, Any], max_name: int, at: _At, index: int | None) -> None:
    for key in node:
        if isinstance(key, str) and len(key) > max_name:
            message = (
                f"a field name in {_where(at)} ({key[:20]!r}...) has {len(key)} characters;"
                f" names may have {max_name}"
            )
            raise _exceeded("record_max_name_length", max_name, at, message, index)


def _path(at: _At) -> str:
    parts: list[str] = []
    while at is not None:
        at, key = at
        parts.append(str(key))
    return ".".join(reversed(parts))


def _where(at: _At) -> str:
    return _path(at) or "the record"


def _exceeded(limit: str, most: int, at: _At, message: str, index: int | None) -> ApiError:
    details: dict[str, Any] = {"limit": limit, "max": most, "path": _path(at)}
    if index is not None:
        details["index"] = index
    return ApiError("records.limit_exceeded", 400, f"{message} ({limit})", details)

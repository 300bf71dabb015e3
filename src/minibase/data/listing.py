"""List queries: the filter, sort, projection, limit and cursor of `GET .../records`.

Pagination is keyset ("after this row"), never OFFSET: a cursor holds the sort values of the
last row returned plus its `_id`, so pages stay stable while records are added or removed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from minibase.client_json import parse_client_json
from minibase.data.expand_paths import parse_expand
from minibase.errors import ApiError
from minibase.rules.filters import Filter, FilterError, parse_filter, parse_path
from minibase.store.dialect import SYSTEM_COLUMNS, Dialect
from minibase.store.tables import order_suffix

MAX_SORT_KEYS = 4
MAX_FIELDS = 50
INT64 = range(-(2**63), 2**63)

SortKey = tuple[tuple[str, ...], bool]  # (path, descending)


@dataclass(frozen=True, slots=True)
class ListQuery:
    filter: Filter
    sort: tuple[SortKey, ...]
    fields: tuple[tuple[str, ...], ...] | None
    limit: int
    cursor: str | None
    count: bool
    expand: tuple[str, ...] = ()  # paths, checked against the schemas when the list runs


def _bad_query(code: str, message: str, **details: Any) -> ApiError:
    return ApiError(code, 400, message, details or None)


def parse_filter_param(text: str | None) -> Filter:
    if not text:
        return parse_filter(None)
    try:
        value = parse_client_json(text)
    except orjson.JSONDecodeError as exc:
        message = f"filter is not valid JSON: {exc.msg}"
        raise _bad_query("records.invalid_filter", message) from None
    return parse_filter_value(value)


def parse_filter_value(value: Any) -> Filter:
    try:
        return parse_filter(value)
    except FilterError as exc:
        raise _bad_query("records.invalid_filter", exc.message, at=exc.at) from None


def parse_sort(text: str | None) -> tuple[SortKey, ...]:
    if not text:
        return ()
    keys: list[SortKey] = []
    for part in text.split(","):
        part = part.strip()
        descending = part.startswith("-")
        name = part.lstrip("-+")
        try:
            path = parse_path(name, "sort")
        except FilterError as exc:
            raise _bad_query("records.invalid_sort", exc.message) from None
        keys.append((path, descending))
    if len(keys) > MAX_SORT_KEYS:
        raise _bad_query("records.invalid_sort", f"sort on at most {MAX_SORT_KEYS} fields")
    if len({path for path, _ in keys}) != len(keys):
        raise _bad_query("records.invalid_sort", "a field appears twice in sort")
    return tuple(keys)


def parse_fields(text: str | None) -> tuple[tuple[str, ...], ...] | None:
    if not text:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    if len(names) > MAX_FIELDS:
        raise _bad_query("request.invalid_query", f"fields lists at most {MAX_FIELDS} paths")
    try:
        return tuple(parse_path(name, "fields") for name in names)
    except FilterError as exc:
        raise _bad_query("request.invalid_query", exc.message) from None


def parse_limit(text: str | None, default: int, maximum: int) -> int:
    if text is None or text == "":
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 9) or not 1 <= int(text) <= maximum:
        raise _bad_query(
            "request.invalid_query", f"limit must be a whole number from 1 to {maximum}"
        )
    return int(text)


def parse_list_query(params: Mapping[str, str], default_limit: int, max_limit: int) -> ListQuery:
    count = params.get("count", "false").lower()
    if count not in ("true", "false", "1", "0"):
        raise _bad_query("request.invalid_query", "count must be true or false")
    return ListQuery(
        filter=parse_filter_param(params.get("filter")),
        sort=parse_sort(params.get("sort")),
        fields=parse_fields(params.get("fields")),
        limit=parse_limit(params.get("limit"), default_limit, max_limit),
        cursor=params.get("cursor") or None,
        count=count in ("true", "1"),
        expand=parse_expand(params.get("expand")),
    )


# -- SQL pieces ---------------------------------------------------------------------------


def sort_keys(query: ListQuery) -> list[SortKey]:
    """The query's sort up to `_id`, which is unique so later keys never matter, ending with
    `_id` as the tie-breaker (in the last key's direction when the sort does not name it)."""
    keys: list[SortKey] = []
    for key in query.sort:
        keys.append(key)
        if key[0] == ("_id",):
            return keys
    return [*keys, (("_id",), keys[-1][1] if keys else False)]


def order_by(dialect: Dialect, keys: Sequence[SortKey]) -> str:
    return ", ".join(f"{dialect.field(path)} {order_suffix(dialect, desc)}" for path, desc in keys)


def _fingerprint(keys: Sequence[SortKey]) -> str:
    text = ",".join(("-" if desc else "") + ".".join(path) for path, desc in keys)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def encode_cursor(keys: Sequence[SortKey], values: Sequence[Any]) -> str:
    payload = orjson.dumps({"k": _fingerprint(keys), "v": list(values)})
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(dialect: Dialect, keys: Sequence[SortKey], cursor: str) -> list[Any]:
    invalid = _bad_query("records.invalid_cursor", "the cursor does not belong to this query")
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        values = payload["v"]
        matches = payload["k"] == _fingerprint(keys)
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise invalid from None
    if not matches or not isinstance(values, list) or len(values) != len(keys):
        raise invalid
    for (path, _), value in zip(keys, values, strict=True):
        if not _bindable(dialect, path, value):
            raise invalid
    if not isinstance(values[-1], str):
        raise invalid
    return values


def _bindable(dialect: Dialect, path: tuple[str, ...], value: Any) -> bool:
    """Can this cursor value be bound where the query compares it with the field at path?"""
    if value is None:
        return path != ("_rank",)
    if path == ("_rank",):  # a search's rank or a distance (data/records.py), never a field
        return (type(value) is int and 0 <= value < 2**63) or (
            type(value) is float and 0 <= value < 1e9
        )
    if isinstance(value, str) and "\x00" in value:
        return False  # neither a stored value nor bindable on PostgreSQL
    kind = SYSTEM_COLUMNS.get(path[0]) if len(path) == 1 else None
    if kind == "string":
        return isinstance(value, str)
    if kind == "number":
        return type(value) is int and 0 <= value < 2**31  # an INTEGER column
    if dialect.name == "postgres":
        # jsonb values travel as JSON text: it must parse, to a value jsonb can hold
        try:
            return isinstance(value, str) and not _holds_nul(orjson.loads(value))
        except orjson.JSONDecodeError:
            return False
    return type(value) in (str, float) or (type(value) is int and value in INT64)


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_holds_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    return False


def after_cursor(
    dialect: Dialect, keys: Sequence[SortKey], values: Sequence[Any], params: list[Any]
) -> str:
    """Rows after the cursor row in (sort..., _id) order, with nulls as the smallest value."""

    def placeholder(path: tuple[str, ...], value: Any) -> str:
        params.append(value)
        return dialect.json_param() if not path[0].startswith("_") else "?"

    def after(i: int) -> str:
        path, desc = keys[i]
        expr, value = dialect.field(path), values[i]
        if i == len(keys) - 1:
            return f"{expr} {'<' if desc else '>'} {placeholder(path, value)}"
        if value is None:
            rest = after(i + 1)
            if desc:
                return f"({expr} IS NULL AND {rest})"
            return f"(({expr} IS NULL AND {rest}) OR {expr} IS NOT NULL)"
        strictly = f"{expr} {'<' if desc else '>'} {placeholder(path, value)}"
        equal = f"{expr} = {placeholder(path, value)}"
        rest = after(i + 1)
        nulls = f" OR {expr} IS NULL" if desc else ""
        return f"({strictly} OR ({equal} AND {rest}){nulls})"

    return after(0)


def project(document: Mapping[str, Any], fields: Sequence[tuple[str, ...]]) -> dict[str, Any]:
    """Only the listed (dotted) fields, plus `_id` always."""
    result: dict[str, Any] = {"_id": document.get("_id")}
    for path in fields:
        node: Any = document
        for segment in path:
            if not isinstance(node, Mapping) or segment not in node:
                break
            node = node[segment]
        else:
            target = result
            for segment in path[:-1]:
                target = target.setdefault(segment, {})
            target[path[-1]] = node
    return result

"""The filter language of list and bulk queries: JSON in the shape CloudBase and MongoDB users know.

    {"status": "published", "score": {"$gte": 10}, "$or": [{"tags": {"$all": ["a"]}}, ...]}

Parsed into the same Condition tree as rules, with bounds on size and depth so a filter can
never be expensive to parse; values are never put into SQL text (the compiler binds them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from minibase.rules.conditions import (
    FALSE,
    TRUE,
    Compare,
    Condition,
    Contains,
    Exists,
    FieldPath,
    In,
    Like,
    Near,
    Regex,
    Scalar,
    Search,
    WithinBox,
    all_of,
    any_of,
    negate,
)
from minibase.rules.regex import UnportableRegex, check_portable_regex

SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}|[0-9]{1,6}")  # used with fullmatch
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
SYSTEM_FIELDS = frozenset({"_id", "_owner", "_created", "_updated", "_version"})
MAX_DEPTH = 12
MAX_NODES = 256
MAX_LIST = 100
MAX_STRING = 4096
MAX_PATTERN = 256
MIN_SEARCH, MAX_SEARCH = 2, 100  # characters a $search looks for
# Operator names as they are written without their $: never field equality (a filter compares
# scalars only), so a value made of them is a mistake that deserves a pointed answer.
BARE_OPERATORS = frozenset(
    {"eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"}
    | {"all", "exists", "regex", "options", "like", "not"}
)
BARE_LOGICAL = frozenset({"and", "or", "nor", "not"})
NOT_A_SCALAR = "compare with a string, number, boolean or null (use dotted paths for nested fields)"


class FilterError(ValueError):
    def __init__(self, message: str, at: str) -> None:
        super().__init__(f"{message} (at {at or 'the top'})")
        self.message = message
        self.at = at


def parse_path(text: str, at: str = "", *, documents: bool = False) -> tuple[str, ...]:
    """A dotted field path: identifiers and array indexes; system fields only at the top
    (unless `documents`: a path into the documents an aggregation stage makes, `_id.day`)."""
    parts = tuple(text.split("."))
    if len(parts) > 16 or not all(SEGMENT.fullmatch(part) for part in parts):
        raise FilterError(f"{text!r} is not a field path (letters, digits, _ and dots)", at)
    if parts[0].isdigit():
        raise FilterError(f"{text!r} cannot start with an array index", at)
    if documents:
        return parts
    if parts[0].startswith("_") and (parts[0] not in SYSTEM_FIELDS or len(parts) > 1):
        raise FilterError(
            f"{text!r}: only the system fields {sorted(SYSTEM_FIELDS)} start with _", at
        )
    return parts


@dataclass(frozen=True, slots=True)
class Filter:
    """A parsed filter: its condition, and every path it names. An empty list folds its part
    away (`{"x": {"$in": []}}` is false whatever x holds), so the condition alone may not
    show every path the filter names, and each must still be one a record can hold."""

    condition: Condition
    paths: frozenset[FieldPath]
    searches: bool = False  # holds a $search


class _Parser:
    def __init__(self, documents: bool) -> None:
        self.nodes = 0
        self.paths: set[FieldPath] = set()
        self.documents = documents
        self.searched = False

    def filter(self, value: Any, at: str, depth: int) -> Condition:
        if depth > MAX_DEPTH:
            raise FilterError(f"the filter nests deeper than {MAX_DEPTH} levels", at)
        if not isinstance(value, Mapping):
            raise FilterError("a filter is a JSON object", at)
        parts: list[Condition] = []
        for key, item in value.items():
            where = f"{at}.{key}" if at else str(key)
            self.nodes += 1
            if self.nodes > MAX_NODES:
                raise FilterError(f"the filter has more than {MAX_NODES} conditions", where)
            if key in ("$and", "$or", "$nor"):
                parts.append(self.combine(key, item, where, depth))
            elif key == "$search":
                parts.append(search(item, where))
                self.searched = True
            elif key == "$not":
                parts.append(negate(self.filter(item, where, depth + 1)))
            elif isinstance(key, str) and key.startswith("$"):
                raise FilterError(f"unknown operator {key!r} here", where)
            else:
                path = parse_path(key, where, documents=self.documents)
                self.paths.add(path)
                parts.append(self.field(path, item, where, depth))
        return all_of(*parts)

    def combine(self, key: str, items: Any, at: str, depth: int) -> Condition:
        if not isinstance(items, list) or not items:
            raise FilterError(f"{key} takes a non-empty list of filters", at)
        conditions = [self.filter(item, f"{at}.{i}", depth + 1) for i, item in enumerate(items)]
        if key == "$and":
            return all_of(*conditions)
        if key == "$or":
            return any_of(*conditions)
        return negate(any_of(*conditions))

    def field(self, path: tuple[str, ...], value: Any, at: str, depth: int) -> Condition:
        if isinstance(value, Mapping) and any(str(k).startswith("$") for k in value):
            return self.operators(path, value, at, depth)
        if isinstance(value, Mapping | list):
            raise FilterError(_not_a_value(path, value), at)
        return Compare("eq", path, scalar(value, at))

    def operators(
        self, path: tuple[str, ...], ops: Mapping[str, Any], at: str, depth: int
    ) -> Condition:
        if depth > MAX_DEPTH:
            raise FilterError(f"the filter nests deeper than {MAX_DEPTH} levels", at)
        parts: list[Condition] = []
        for op, operand in ops.items():
            where = f"{at}.{op}"
            self.nodes += 1
            if op in ("$eq", "$ne"):
                parts.append(Compare(op[1:], path, scalar(operand, where)))  # type: ignore[arg-type]
            elif op in ("$gt", "$gte", "$lt", "$lte"):
                value = scalar(operand, where)
                if value is None or isinstance(value, bool):
                    raise FilterError(f"{op} compares with a number or a string", where)
                parts.append(Compare(op[1:], path, value))  # type: ignore[arg-type]
            elif op in ("$in", "$nin"):
                values = scalar_list(operand, where)
                found = In(path, values) if values else FALSE
                parts.append(found if op == "$in" else negate(found))
            elif op == "$all":
                values = scalar_list(operand, where)
                parts.append(all_of(*(Contains(path, v) for v in values)) if values else TRUE)
            elif op == "$exists":
                if not isinstance(operand, bool):
                    raise FilterError("$exists takes true or false", where)
                parts.append(Exists(path) if operand else negate(Exists(path)))
            elif op == "$regex":
                parts.append(regex(path, operand, ops.get("$options", ""), where))
            elif op == "$options":
                if "$regex" not in ops:
                    raise FilterError("$options goes with $regex", where)
            elif op == "$like":
                if not isinstance(operand, str) or len(operand) > MAX_PATTERN:
                    raise FilterError(
                        f"$like takes a pattern of at most {MAX_PATTERN} chars", where
                    )
                scalar(operand, where)  # no NUL, as for every string
                parts.append(Like(path, operand))
            elif op == "$near":
                parts.append(near(path, operand, where))
            elif op == "$geoWithin":
                parts.append(within_box(path, operand, where))
            elif op == "$not":
                if not isinstance(operand, Mapping) or not operand:
                    raise FilterError("$not takes an object of operators", where)
                parts.append(negate(self.operators(path, operand, where, depth + 1)))
            elif op in BARE_OPERATORS:
                raise FilterError(f"operators start with $: did you mean ${op}?", where)
            else:
                raise FilterError(f"unknown operator {op!r}", where)
        return all_of(*parts)


def _not_a_value(path: tuple[str, ...], value: Mapping[str, Any] | list[Any]) -> str:
    """Why an object or a list cannot be compared, with the operator it may have meant."""
    logical = path[0] if len(path) == 1 and path[0] in BARE_LOGICAL else None
    if logical is not None and isinstance(value, Mapping if logical == "not" else list):
        return f"operators start with $: did you mean ${logical}?"
    if isinstance(value, Mapping) and value and all(key in BARE_OPERATORS for key in value):
        return f"operators start with $: did you mean {', '.join('$' + key for key in value)}?"
    return NOT_A_SCALAR


def scalar(value: Any, at: str) -> Scalar:
    """A value no engine would refuse: 64-bit integers, strings without NUL."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:
            raise FilterError("numbers in filters are at most 64-bit integers", at)
        return value
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise FilterError(f"strings in filters are at most {MAX_STRING} characters", at)
        if "\x00" in value:
            raise FilterError("strings in filters cannot hold the NUL character", at)
        return value
    raise FilterError(NOT_A_SCALAR, at)


def scalar_list(value: Any, at: str) -> tuple[Scalar, ...]:
    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise FilterError(f"expected a list of at most {MAX_LIST} values", at)
    return tuple(scalar(item, f"{at}.{i}") for i, item in enumerate(value))


MAX_DISTANCE = 20_037_508.0  # metres: half the equator, on $near's sphere


def _coordinates(value: Any, at: str) -> tuple[float, float]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in value)
        or not -180 <= value[0] <= 180
        or not -90 <= value[1] <= 90
    ):
        raise FilterError("a point is [longitude, latitude], -180..180 and -90..90", at)
    return float(value[0]), float(value[1])


def _metres(value: Any, at: str) -> float:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not 0 <= value <= MAX_DISTANCE
    ):
        raise FilterError(f"a distance is metres from 0 to {MAX_DISTANCE:,.0f}", at)
    return float(value)


def near(path: FieldPath, spec: Any, at: str) -> Near:
    """{"$geometry": {"type": "Point", "coordinates": [lng, lat]}, "$maxDistance": metres,
    "$minDistance": metres}: MongoDB's (and CloudBase's geoNear) form; a most is required."""
    if not isinstance(spec, Mapping) or set(spec) - {"$geometry", "$maxDistance", "$minDistance"}:
        raise FilterError("$near takes $geometry, $maxDistance and $minDistance", at)
    geometry = spec.get("$geometry")
    if not isinstance(geometry, Mapping) or geometry.get("type") != "Point" or len(geometry) != 2:
        raise FilterError('$geometry is {"type": "Point", "coordinates": [lng, lat]}', at)
    longitude, latitude = _coordinates(geometry.get("coordinates"), at)
    if "$maxDistance" not in spec:
        raise FilterError("$near needs $maxDistance (metres): nearby, not the whole world", at)
    most = _metres(spec["$maxDistance"], f"{at}.$maxDistance")
    least = _metres(spec.get("$minDistance", 0), f"{at}.$minDistance")
    if least > most:
        raise FilterError("$minDistance is more than $maxDistance", at)
    return Near(path, longitude, latitude, most, least)


def within_box(path: FieldPath, spec: Any, at: str) -> WithinBox:
    """{"$box": [[west, south], [east, north]]}: the bottom left and top right corners."""
    if not isinstance(spec, Mapping) or set(spec) != {"$box"}:
        raise FilterError("$geoWithin takes $box: [[west, south], [east, north]]", at)
    corners = spec["$box"]
    if not isinstance(corners, list) or len(corners) != 2:
        raise FilterError("$box is [[west, south], [east, north]]", at)
    west, south = _coordinates(corners[0], f"{at}.$box.0")
    east, north = _coordinates(corners[1], f"{at}.$box.1")
    if west > east or south > north:
        raise FilterError(
            "$box is [[west, south], [east, north]]: west to east, south to north", at
        )
    return WithinBox(path, west, south, east, north)


def search(text: Any, at: str) -> Search:
    if not isinstance(text, str) or not MIN_SEARCH <= len(text) <= MAX_SEARCH:
        raise FilterError(f"$search takes text of {MIN_SEARCH} to {MAX_SEARCH} characters", at)
    scalar(text, at)  # no NUL, as for every string
    return Search(text)


def regex(path: tuple[str, ...], pattern: Any, options: Any, at: str) -> Condition:
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN:
        raise FilterError(f"$regex takes a pattern of at most {MAX_PATTERN} characters", at)
    scalar(pattern, at)  # no NUL, as for every string
    if options not in ("", "i"):
        raise FilterError('$options can only be "i" (ignore case)', at)
    try:
        check_portable_regex(pattern)
        re.compile(pattern)
    except (UnportableRegex, re.error) as exc:
        raise FilterError(f"$regex: {exc}", at) from None
    return Regex(path, pattern, ignore_case=options == "i")


def parse_filter(value: Any, *, documents: bool = False) -> Filter:
    """Parse a decoded JSON filter; raises FilterError naming where the problem is.
    `documents`: a filter of the documents an aggregation stage makes (see parse_path)."""
    if value is None:
        return Filter(TRUE, frozenset())
    parser = _Parser(documents)
    condition = parser.filter(value, "", 0)
    return Filter(condition, frozenset(parser.paths), parser.searched)

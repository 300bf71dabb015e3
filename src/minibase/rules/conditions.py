"""The condition tree shared by rules and filters, and its Python evaluator.

Semantics (the SQL compiler in `minibase.store.query` implements exactly these):
- A path walks nested objects; a missing field and JSON null are both "null" for `eq null`.
- `eq` compares scalars only: numbers with numbers (1 == 1.0), strings with strings, booleans
  with booleans; `eq None` matches null or missing. `ne` is `not eq`.
- Ordering (`gt gte lt lte`) compares a number with numbers or a string with strings; any
  other pairing, null or missing is false.
- `In` is "eq any of"; `Contains` is "the field is an array holding this scalar".
- `Exists` is true when the field is present, even if null.
- `Regex` and `Like` match strings only; `Like` is case-sensitive with % and _ wildcards.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, TypeAlias

Scalar: TypeAlias = bool | int | float | str | None
FieldPath: TypeAlias = tuple[str, ...]
CompareOp: TypeAlias = Literal["eq", "ne", "gt", "gte", "lt", "lte"]
ORDERING_OPS = frozenset({"gt", "gte", "lt", "lte"})


@dataclass(frozen=True, slots=True)
class Const:
    value: bool


TRUE = Const(True)
FALSE = Const(False)


@dataclass(frozen=True, slots=True)
class Compare:
    op: CompareOp
    path: FieldPath
    value: Scalar


@dataclass(frozen=True, slots=True)
class In:
    path: FieldPath
    values: tuple[Scalar, ...]


@dataclass(frozen=True, slots=True)
class Contains:
    path: FieldPath
    value: Scalar


@dataclass(frozen=True, slots=True)
class Exists:
    path: FieldPath


@dataclass(frozen=True, slots=True)
class Regex:
    path: FieldPath
    pattern: str
    ignore_case: bool = False


@dataclass(frozen=True, slots=True)
class Like:
    path: FieldPath
    pattern: str


@dataclass(frozen=True, slots=True)
class Search:
    """`{"$search": "拿铁"}`: one of the fields of the collection's search index holds the text,
    ASCII letters in either case. The parser knows the text only; the data layer binds the
    index's fields and the collection (`minibase.data.known_paths.checked_filter`)."""

    text: str
    fields: tuple[FieldPath, ...] = ()
    collection_id: str = ""


EARTH_RADIUS = 6_378_100.0  # metres: the sphere MongoDB's (and CloudBase's) $near measures on


@dataclass(frozen=True, slots=True)
class Near:
    """`{"place": {"$near": ...}}`: a geopoint field at least `least` and at most `most` metres
    from the point, along the sphere. The data layer binds the collection (its geo index)."""

    path: FieldPath
    longitude: float
    latitude: float
    most: float
    least: float = 0.0
    collection_id: str = ""


@dataclass(frozen=True, slots=True)
class WithinBox:
    """`{"place": {"$geoWithin": {"$box": [[west, south], [east, north]]}}}`, edges included."""

    path: FieldPath
    west: float
    south: float
    east: float
    north: float
    collection_id: str = ""


def point_of(value: Any) -> tuple[float, float] | None:
    """A stored geopoint's (longitude, latitude); None for anything else."""
    if not isinstance(value, Mapping) or value.get("type") != "Point":
        return None
    coordinates = value.get("coordinates")
    if not isinstance(coordinates, list) or len(coordinates) != 2:
        return None
    if not all(isinstance(c, int | float) and not isinstance(c, bool) for c in coordinates):
        return None
    return float(coordinates[0]), float(coordinates[1])


def distance(x1: float, y1: float, x2: float, y2: float) -> float:
    """Metres between two (longitude, latitude) points on the sphere (haversine), computed as
    the store's SQL computes it, step by step, so that both agree to the last digit."""
    a = math.pow(math.sin(math.radians(y1 - y2) / 2), 2) + math.cos(math.radians(y2)) * math.cos(
        math.radians(y1)
    ) * math.pow(math.sin(math.radians(x1 - x2) / 2), 2)
    return 2 * EARTH_RADIUS * math.asin(math.sqrt(a))


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Condition


Condition: TypeAlias = (
    Const
    | Compare
    | In
    | Contains
    | Exists
    | Regex
    | Like
    | Search
    | Near
    | WithinBox
    | And
    | Or
    | Not
)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """ASCII letters lowered, nothing else: what both engines' lower() do (SQLite's, and
    PostgreSQL's in the "C" collation), so a search matches alike on each."""
    return text.translate(_ASCII_LOWER)


def all_of(*items: Condition) -> Condition:
    """AND with constant folding: TRUE parts vanish, a FALSE part wins."""
    kept: list[Condition] = []
    for item in items:
        if isinstance(item, Const):
            if not item.value:
                return FALSE
            continue
        kept.extend(item.items if isinstance(item, And) else (item,))
    if not kept:
        return TRUE
    return kept[0] if len(kept) == 1 else And(tuple(kept))


def any_of(*items: Condition) -> Condition:
    """OR with constant folding: FALSE parts vanish, a TRUE part wins."""
    kept: list[Condition] = []
    for item in items:
        if isinstance(item, Const):
            if item.value:
                return TRUE
            continue
        kept.extend(item.items if isinstance(item, Or) else (item,))
    if not kept:
        return FALSE
    return kept[0] if len(kept) == 1 else Or(tuple(kept))


def negate(item: Condition) -> Condition:
    if isinstance(item, Const):
        return FALSE if item.value else TRUE
    if isinstance(item, Not):
        return item.item
    return Not(item)


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


def resolve(doc: Mapping[str, Any], path: FieldPath) -> Any:
    """The value at a dotted path, or MISSING.

    A digit segment indexes an array (never an object key), as in the SQL the store compiles.
    """
    value: Any = doc
    for segment in path:
        is_index = segment.isascii() and segment.isdigit()
        if isinstance(value, Mapping) and not is_index:
            value = value.get(segment, MISSING)
        elif isinstance(value, list) and is_index:
            index = int(segment)
            value = value[index] if index < len(value) else MISSING
        else:
            return MISSING
        if value is MISSING:
            return MISSING
    return value


def scalar_kind(value: Any) -> str | None:
    """The comparison class of a JSON value: 'null', 'bool', 'number', 'string', or None."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def scalar_equal(actual: Any, expected: Scalar) -> bool:
    if expected is None:
        return actual is None or actual is MISSING
    kind = scalar_kind(expected)
    return scalar_kind(actual) == kind and actual == expected


def evaluate(condition: Condition, doc: Mapping[str, Any]) -> bool:
    """Does the document satisfy the condition?"""
    match condition:
        case Const(value):
            return value
        case Compare(op, path, expected):
            actual = resolve(doc, path)
            if op == "eq":
                return scalar_equal(actual, expected)
            if op == "ne":
                return not scalar_equal(actual, expected)
            kind = scalar_kind(expected)
            if kind not in ("number", "string") or scalar_kind(actual) != kind:
                return False
            if op == "gt":
                return bool(actual > expected)
            if op == "gte":
                return bool(actual >= expected)
            if op == "lt":
                return bool(actual < expected)
            return bool(actual <= expected)
        case In(path, values):
            actual = resolve(doc, path)
            return any(scalar_equal(actual, value) for value in values)
        case Contains(path, expected):
            actual = resolve(doc, path)
            if not isinstance(actual, list):
                return False
            if expected is None:
                return any(item is None for item in actual)
            return any(scalar_equal(item, expected) for item in actual)
        case Exists(path):
            return resolve(doc, path) is not MISSING
        case Regex(path, pattern, ignore_case):
            actual = resolve(doc, path)
            return (
                isinstance(actual, str)
                and compiled_regex(pattern, ignore_case).search(actual) is not None
            )
        case Like(path, pattern):
            actual = resolve(doc, path)
            return isinstance(actual, str) and like_regex(pattern).fullmatch(actual) is not None
        case Near(path, longitude, latitude, most, least):
            point = point_of(resolve(doc, path))
            return point is not None and least <= distance(*point, longitude, latitude) <= most
        case WithinBox(path, west, south, east, north):
            point = point_of(resolve(doc, path))
            return point is not None and west <= point[0] <= east and south <= point[1] <= north
        case Search(text, fields):
            needle = ascii_lower(text)
            return any(
                isinstance(value := resolve(doc, path), str) and needle in ascii_lower(value)
                for path in fields
            )
        case And(items):
            return all(evaluate(item, doc) for item in items)
        case Or(items):
            return any(evaluate(item, doc) for item in items)
        case Not(item):
            return not evaluate(item, doc)
    raise TypeError(f"not a condition: {condition!r}")


@lru_cache(maxsize=256)
def compiled_regex(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE if ignore_case else 0)


LikePart: TypeAlias = tuple[bool, str]  # (is a wildcard, the character)


def like_parts(pattern: str) -> list[LikePart]:
    """An SQL LIKE pattern (case-sensitive, % and _, backslash escapes) read once, for every
    engine: (True, "%" or "_") for a wildcard, (False, char) for a literal character. A
    trailing lone backslash is a literal backslash."""
    parts: list[LikePart] = []
    escaped = False
    for char in pattern:
        if escaped:
            parts.append((False, char))
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            parts.append((char in "%_", char))
    if escaped:
        parts.append((False, "\\"))
    return parts


@lru_cache(maxsize=256)
def like_regex(pattern: str) -> re.Pattern[str]:
    """SQL LIKE as a Python regex (for `evaluate`)."""
    wildcards = {"%": ".*", "_": "."}
    text = "".join(wildcards[c] if wild else re.escape(c) for wild, c in like_parts(pattern))
    return re.compile(text, re.DOTALL)

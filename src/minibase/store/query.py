"""Compile a Condition into a SQL boolean expression with bound parameters.

Two-valued by construction: NOT is pushed down to the leaves (De Morgan), and a negated leaf is
`NOT COALESCE(leaf, FALSE)`, so a NULL from a missing field never flips a negation. Positive
leaves stay plain comparisons on the same expressions the indexes are built on, so they use them.

Field kinds come from the collection schema: a declared field needs no type guard; an
undeclared one is guarded so that, as in `rules.conditions.evaluate`, 5 never equals "5" or true.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from minibase.memo import remember
from minibase.rules.conditions import (
    EARTH_RADIUS,
    And,
    Compare,
    Condition,
    Const,
    Contains,
    Exists,
    In,
    Like,
    Near,
    Not,
    Or,
    Regex,
    Scalar,
    Search,
    WithinBox,
    ascii_lower,
    like_parts,
    scalar_kind,
)
from minibase.store.dialect import Dialect, PostgresDialect, SQLiteDialect

KindOf = Callable[[tuple[str, ...]], str | None]

_SQL_OPS = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_SQLITE_TYPES = {"number": "IN ('integer', 'real')", "string": "= 'text'"}
_PG_TYPES = {"number": "'number'", "string": "'string'"}


def like_to_glob(pattern: str) -> str:
    """SQL LIKE as an SQLite GLOB, which is case-sensitive (LIKE is not, on SQLite)."""
    wildcards = {"%": "*", "_": "?"}
    return "".join(
        wildcards[c] if wild else (f"[{c}]" if c in "*?[" else c) for wild, c in like_parts(pattern)
    )


def postgres_like(pattern: str) -> str:
    """SQL LIKE as PostgreSQL reads it: backslash escapes, every literal written out escaped
    where it could be read as a wildcard or an escape."""
    return "".join(c if wild or c not in "%_\\" else "\\" + c for wild, c in like_parts(pattern))


class Compiled:
    __slots__ = ("params", "sql")

    def __init__(self, sql: str, params: Sequence[Any]) -> None:
        self.sql = sql
        self.params = tuple(params)


class ConditionCompiler:
    def __init__(self, dialect: Dialect, kind_of: KindOf) -> None:
        self.dialect = dialect
        self._kind_of = kind_of
        self._true = "TRUE" if dialect.name == "postgres" else "1"
        self._false = "FALSE" if dialect.name == "postgres" else "0"

    def compile(self, condition: Condition) -> Compiled:
        params: list[Any] = []
        return Compiled(self._node(condition, False, params), params)

    def kind(self, path: tuple[str, ...]) -> str | None:
        columns = self.dialect.system_columns
        if len(path) == 1 and path[0] in columns:
            return columns[path[0]]
        return self._kind_of(path)

    # -- structure ----------------------------------------------------------------------

    def _node(self, node: Condition, negated: bool, params: list[Any]) -> str:
        if isinstance(node, Const):
            return self._true if node.value != negated else self._false
        if isinstance(node, Not):
            return self._node(node.item, not negated, params)
        if isinstance(node, And | Or):
            joiner = " AND " if isinstance(node, And) != negated else " OR "
            return "(" + joiner.join(self._node(i, negated, params) for i in node.items) + ")"
        if isinstance(node, Compare) and node.op == "ne":
            return self._node(Compare("eq", node.path, node.value), not negated, params)
        leaf = self._leaf(node, params)
        if not negated:
            return leaf
        return f"NOT COALESCE({leaf}, {self._false})"

    def _leaf(self, node: Condition, params: list[Any]) -> str:
        if isinstance(node, Compare):
            return self._compare(node, params)
        if isinstance(node, In):
            return self._in(node, params)
        if isinstance(node, Contains):
            return self._contains(node, params)
        if isinstance(node, Exists):
            return self._exists(node)
        if isinstance(node, Regex):
            return self._regex(node, params)
        if isinstance(node, Like):
            return self._like(node, params)
        if isinstance(node, Search):
            return self._search(node, params)
        if isinstance(node, Near):
            return self._near(node, params)
        if isinstance(node, WithinBox):
            return self._within_box(node, params)
        raise TypeError(f"not a leaf: {node!r}")

    # -- leaves -------------------------------------------------------------------------

    def _is_system(self, path: tuple[str, ...]) -> bool:
        return len(path) == 1 and path[0] in self.dialect.system_columns

    def _null_check(self, path: tuple[str, ...]) -> str:
        expr = self.dialect.field(path)
        if self._is_system(path) or isinstance(self.dialect, SQLiteDialect):
            return f"{expr} IS NULL"  # json_extract gives NULL for JSON null and for missing
        return f"({expr} IS NULL OR {expr} = 'null'::jsonb)"

    def _bind(self, path: tuple[str, ...], value: Scalar, params: list[Any]) -> str:
        """A placeholder for a value compared with the field at path."""
        if isinstance(self.dialect, PostgresDialect) and not self._is_system(path):
            params.append(orjson.dumps(value).decode())
            return "?::jsonb"
        params.append(value)
        if isinstance(self.dialect, PostgresDialect) and self.kind(path) == "number":
            return "?::numeric"  # an int4 parameter would truncate 1.5 to 1 (and refuse 2**31)
        return "?"

    def _type_guard(self, path: tuple[str, ...], kind: str) -> str | None:
        """None when the schema already guarantees the kind; else SQL that checks it."""
        declared = self.kind(path)
        if declared == kind:
            return None
        if declared is not None:
            return self._false  # a declared field of another kind never matches
        if isinstance(self.dialect, SQLiteDialect):
            if kind == "boolean":
                return None  # booleans are checked by json_type directly
            return f"json_type(data, '{self.dialect.json_path(path)}') {_SQLITE_TYPES[kind]}"
        assert isinstance(self.dialect, PostgresDialect)
        if kind == "boolean":
            return None  # jsonb equality is type-exact
        return f"jsonb_typeof({self.dialect.field(path)}) = {_PG_TYPES[kind]}"

    def _compare(self, node: Compare, params: list[Any]) -> str:
        path, value = node.path, node.value
        kind = _value_kind(value)
        if kind is None:
            return self._null_check(path) if node.op == "eq" else self._false
        if node.op != "eq" and kind == "boolean":
            return self._false
        expr = self.dialect.field(path)
        guard = self._type_guard(path, kind)
        if guard == self._false:
            return self._false
        if kind == "boolean" and isinstance(self.dialect, SQLiteDialect):
            # json_extract turns true into 1: compare the JSON type instead.
            return f"json_type(data, '{self.dialect.json_path(path)}') = '{str(value).lower()}'"
        if kind != "number" and isinstance(self.dialect, PostgresDialect) and guard:
            guard = None if node.op == "eq" else guard  # jsonb = is type-exact
        if kind == "number" and isinstance(self.dialect, PostgresDialect) and node.op == "eq":
            guard = None
        if (
            guard is None
            and node.op in ("lt", "lte")
            and isinstance(self.dialect, PostgresDialect)
            and not self._is_system(path)
        ):
            guard = f"{expr} <> 'null'::jsonb"  # JSON null sorts below every jsonb value
        test = f"{expr} {_SQL_OPS[node.op]} {self._bind(path, value, params)}"
        return f"({guard} AND {test})" if guard else test

    def _in(self, node: In, params: list[Any]) -> str:
        by_kind: dict[str | None, list[Scalar]] = {}
        for value in node.values:
            by_kind.setdefault(_value_kind(value), []).append(value)
        parts: list[str] = []
        for kind, values in by_kind.items():
            if kind is None:
                parts.append(self._null_check(node.path))
            elif len(values) == 1 or kind == "boolean":
                parts.extend(self._compare(Compare("eq", node.path, v), params) for v in values)
            else:
                guard = self._type_guard(node.path, kind)
                if guard == self._false:
                    continue
                if isinstance(self.dialect, PostgresDialect):
                    guard = None
                marks = ", ".join(self._bind(node.path, v, params) for v in values)
                test = f"{self.dialect.field(node.path)} IN ({marks})"
                parts.append(f"({guard} AND {test})" if guard else test)
        parts = [part for part in parts if part != self._false]
        if not parts:
            return self._false
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def _contains(self, node: Contains, params: list[Any]) -> str:
        path = node.path
        if self._is_system(path) or self.kind(path) not in (None, "array"):
            return self._false
        if isinstance(self.dialect, PostgresDialect):
            expr = self.dialect.field(path)
            params.append(orjson.dumps([node.value]).decode())
            return f"(jsonb_typeof({expr}) = 'array' AND {expr} @> ?::jsonb)"
        assert isinstance(self.dialect, SQLiteDialect)
        json_path = self.dialect.json_path(path)
        kind = _value_kind(node.value)
        if kind is None:
            item = "each.type = 'null'"
        elif kind == "boolean":
            item = f"each.type = '{str(node.value).lower()}'"
        else:
            params.append(node.value)
            item = f"each.type {_SQLITE_TYPES[kind]} AND each.value = ?"
        return (
            f"(json_type(data, '{json_path}') = 'array' AND EXISTS "
            f"(SELECT 1 FROM json_each(data, '{json_path}') AS each WHERE {item}))"
        )

    def _exists(self, node: Exists) -> str:
        if self._is_system(node.path):
            return self._true
        if isinstance(self.dialect, SQLiteDialect):
            return f"json_type(data, '{self.dialect.json_path(node.path)}') IS NOT NULL"
        return f"{self.dialect.field(node.path)} IS NOT NULL"

    def _text(self, path: tuple[str, ...]) -> tuple[str, str | None]:
        """A text expression for string matching, and the guard that the field is a string."""
        guard = self._type_guard(path, "string")
        if self._is_system(path):
            return path[0], guard
        if isinstance(self.dialect, SQLiteDialect):
            return self.dialect.field(path), guard
        assert isinstance(self.dialect, PostgresDialect)
        return f"({self.dialect.field(path)} #>> '{{}}')", guard

    def _regex(self, node: Regex, params: list[Any]) -> str:
        text, guard = self._text(node.path)
        if guard == self._false:
            return self._false
        params.append(node.pattern)
        test = self.dialect.regex_match(text, node.ignore_case)
        return f"({guard} AND {test})" if guard else test

    def _search(self, node: Search, params: list[Any]) -> str:
        """Records whose search index holds the text: SQLite's FTS5 trigram table (a phrase of
        three characters or more is looked up in it; two are read through), PostgreSQL's
        pg_trgm-indexed LIKE on each field's lowered text (store/tables.py writes both)."""
        if not node.fields:
            raise TypeError("a $search bound to no search index")  # the data layer binds it
        needle = ascii_lower(node.text)
        if isinstance(self.dialect, SQLiteDialect):
            table = f'"t_{node.collection_id}"'
            if len(needle) >= 3:
                params.append('"' + needle.replace('"', '""') + '"')
                found = f"SELECT rowid FROM {table} WHERE {table} MATCH ?"
            else:  # read through: FTS5's own GLOB and LIKE miss two non-ASCII characters
                params.extend(needle for _ in node.fields)
                tests = " OR ".join(f"instr(f{n}, ?) > 0" for n in range(len(node.fields)))
                found = f"SELECT rowid FROM {table} WHERE {tests}"
            return f"rowid IN ({found})"
        escaped = "%" + "".join("\\" + c if c in "%_\\" else c for c in needle) + "%"
        likes = []
        for path in node.fields:
            params.append(escaped)
            likes.append(f"{self.dialect.search_text(path)} LIKE ?")
        return "(" + " OR ".join(likes) + ")"

    def distance(self, node: Near, params: list[Any]) -> str:
        """Metres from the node's point to the record's (haversine on the sphere, as
        `rules.conditions.distance` computes it); NULL without a point."""
        x, y = (self.dialect.coordinate(node.path, axis) for axis in (0, 1))
        params.extend([node.latitude, node.latitude, node.longitude])
        return (
            f"(2 * {EARTH_RADIUS!r} * asin(sqrt(power(sin(radians({y} - ?) / 2), 2)"
            f" + cos(radians(?)) * cos(radians({y})) * power(sin(radians({x} - ?) / 2), 2))))"
        )

    def _boxed(
        self,
        path: tuple[str, ...],
        box: tuple[float, float, float, float],
        table: str,
        params: list[Any],
    ) -> str:
        """Rows whose point may lie in the box (west, south, east, north), by the geo index:
        SQLite's R*Tree holds 32-bit floats, so its box is widened a little (the exact test
        follows); PostgreSQL's GiST index holds the points themselves."""
        west, south, east, north = box
        if isinstance(self.dialect, SQLiteDialect):
            params.extend([west - _SLACK, east + _SLACK, south - _SLACK, north + _SLACK])
            return (
                f"rowid IN (SELECT id FROM {table} WHERE min_x >= ? AND max_x <= ?"
                " AND min_y >= ? AND max_y <= ?)"
            )
        x, y = (self.dialect.coordinate(path, axis) for axis in (0, 1))
        params.extend([west, south, east, north])
        return f"point({x}, {y}) <@ box(point(?, ?), point(?, ?))"

    def _near(self, node: Near, params: list[Any]) -> str:
        table = f'"g_{node.collection_id}"'
        boxed = self._boxed(node.path, around(node), table, params)
        measured = self.distance(node, params)
        params.extend([node.least, node.most])
        return f"({boxed} AND {measured} BETWEEN ? AND ?)"

    def _within_box(self, node: WithinBox, params: list[Any]) -> str:
        table = f'"g_{node.collection_id}"'
        box = (node.west, node.south, node.east, node.north)
        boxed = self._boxed(node.path, box, table, params)
        if not isinstance(self.dialect, SQLiteDialect):
            return boxed
        x, y = (self.dialect.coordinate(node.path, axis) for axis in (0, 1))
        params.extend([node.west, node.east, node.south, node.north])
        return f"({boxed} AND {x} BETWEEN ? AND ? AND {y} BETWEEN ? AND ?)"

    def _like(self, node: Like, params: list[Any]) -> str:
        text, guard = self._text(node.path)
        if guard == self._false:
            return self._false
        if isinstance(self.dialect, SQLiteDialect):
            params.append(like_to_glob(node.pattern))
            test = f"{text} GLOB ?"
        else:
            params.append(postgres_like(node.pattern))
            test = f"{text} LIKE ?"
        return f"({guard} AND {test})" if guard else test


_SLACK = 1e-4  # degrees: more than a 32-bit float's step anywhere on the globe


def around(node: Near) -> tuple[float, float, float, float]:
    """A box (west, south, east, north) holding every point within `node.most` metres of the
    node's point: the whole band of latitudes where it reaches a pole or crosses 180°."""
    reach = math.degrees(node.most / EARTH_RADIUS)
    south, north = node.latitude - reach, node.latitude + reach
    if south <= -90 or north >= 90:
        return -180.0, max(south, -90.0), 180.0, min(north, 90.0)
    spread = math.degrees(
        math.asin(
            min(1.0, math.sin(node.most / EARTH_RADIUS) / math.cos(math.radians(node.latitude)))
        )
    )
    west, east = node.longitude - spread, node.longitude + spread
    if west < -180 or east > 180:
        return -180.0, south, 180.0, north
    return west, south, east, north


def _value_kind(value: Scalar) -> str | None:
    kind = scalar_kind(value)
    return {"bool": "boolean", "null": None}.get(kind, kind) if kind else None


class CachedCompiler(ConditionCompiler):
    """Remembers compiled conditions: a collection sees the same few rules and filters (bound
    to each caller) again and again. Bounded; cleared whole when full."""

    SIZE = 4096

    def __init__(self, dialect: Dialect, kind_of: KindOf) -> None:
        super().__init__(dialect, kind_of)
        self._compiled: dict[str, Compiled] = {}
        # the same condition object again (a rule bound for a caller, kept: data/access.py):
        # found by identity, without its repr; the entry holds the object, so no other
        # object can take its id meanwhile
        self._by_object: dict[int, tuple[Condition, Compiled]] = {}

    def compile(self, condition: Condition) -> Compiled:
        seen = self._by_object.get(id(condition))
        if seen is not None and seen[0] is condition:
            return seen[1]
        # Keyed by repr, not the condition: True == 1 == 1.0 in Python, yet each compiles
        # to different SQL.
        key = repr(condition)
        found = self._compiled.get(key)
        if found is None:
            found = remember(self._compiled, key, super().compile(condition), self.SIZE)
        remember(self._by_object, id(condition), (condition, found), self.SIZE)
        return found

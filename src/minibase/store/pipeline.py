"""An aggregation pipeline (`minibase.rules.pipeline`) as one SQL statement, on either engine.

Each stage is a subquery over the one before: a relation of `data` (the document: JSON text on
SQLite, jsonb on PostgreSQL) and the keys that order it (`k0`, `k1` ...: the record's `_id`
first, a `$sort`'s keys, an `$unwind`'s index), so `$skip`, `$limit`, `$push` and the answer
follow the order the pipeline set. Nothing is aggregated in Python.

Values as both engines give them: a missing field is SQL NULL, JSON null is JSON null. Numbers
compare as numbers whatever their JSON spelling, and never with strings or booleans.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from minibase.rules.conditions import FieldPath
from minibase.rules.pipeline import (
    FIXED_OFFSET,
    Accumulator,
    Arithmetic,
    Constant,
    Count,
    DateToString,
    Expression,
    FieldRef,
    Group,
    Kept,
    Limit,
    Lookup,
    Match,
    ObjectOf,
    Project,
    Skip,
    Sort,
    Stage,
    Unwind,
)
from minibase.store.dialect import POSTGRES, SQLITE, SYSTEM_COLUMNS, Dialect, SQLiteDialect
from minibase.store.query import ConditionCompiler

json_path = SQLITE.json_path  # SQLite's text of a path: $.a.b[0]


class Sql:
    """SQL text and its parameters, in the order their placeholders appear."""

    __slots__ = ("params", "text")

    def __init__(self, text: str, params: Sequence[Any] = ()) -> None:
        self.text = text
        self.params = list(params)


def sql(*parts: str | Sql) -> Sql:
    """The parts one after the other, text and parameters alike."""
    out = Sql("")
    texts: list[str] = []
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
        else:
            texts.append(part.text)
            out.params.extend(part.params)
    out.text = "".join(texts)
    return out


def joined(separator: str, parts: Sequence[Sql]) -> Sql:
    pieces: list[str | Sql] = []
    for i, part in enumerate(parts):
        if i:
            pieces.append(separator)
        pieces.append(part)
    return sql(*pieces)


@dataclass(frozen=True, slots=True)
class Source:
    """A collection as a stage reads it: its table and, compiled, what the caller may list."""

    table: str
    visible: Sql  # a condition over the table's row (its `data` and system columns)


@dataclass(frozen=True, slots=True)
class _Relation:
    query: Sql  # SELECT data, k0 ... k{keys - 1}
    order: tuple[bool, ...]  # each key's direction: True for descending


class PipelineCompiler:
    """One pipeline's SQL for one engine; `most` bounds the answer (it asks for one more, so
    that the caller can tell an answer cut short)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.sqlite = isinstance(dialect, SQLiteDialect)
        self._filters = ConditionCompiler(dialect.documents, lambda _path: None)
        self._aliases = 0

    def compile(
        self,
        base: Source,
        stages: Sequence[Stage],
        sources: Mapping[str, Source],
        most: int,
    ) -> Sql:
        named: list[Sql] = []

        def kept(relation: _Relation) -> _Relation:
            # each stage a named subquery (WITH), read by the next: the statement nests one
            # level a stage, not all of them (SQLite's parser has a depth it may not pass)
            name = f"q{len(named) + 1}"
            named.append(sql(f"{name} AS (", relation.query, ")"))
            return _Relation(Sql(f"SELECT * FROM {name}"), relation.order)

        relation = kept(
            _Relation(
                sql(f"SELECT data, _id AS k0 FROM {base.table} WHERE ", base.visible), (False,)
            )
        )
        for stage in stages:
            relation = kept(self._stage(relation, stage, sources))
        alias = self._alias()
        return sql(
            "WITH ",
            joined(", ", named),
            f" SELECT {self._sent('data')} FROM (",
            relation.query,
            f") AS {alias}{self._order_by(relation)} LIMIT {int(most) + 1}",
        )

    # -- plumbing -----------------------------------------------------------------------

    def _alias(self) -> str:
        self._aliases += 1
        return f"s{self._aliases}"

    def _sent(self, column: str) -> str:
        return f"CAST({column} AS BLOB)" if self.sqlite else f"{column}::text"

    @staticmethod
    def _keys(relation: _Relation, prefix: str = "") -> str:
        return "".join(f", {prefix}k{i}" for i in range(len(relation.order)))

    @staticmethod
    def _order_by(relation: _Relation, prefix: str = "") -> str:
        if not relation.order:
            return ""
        terms = (f"{prefix}k{i}{' DESC' if desc else ''}" for i, desc in enumerate(relation.order))
        return " ORDER BY " + ", ".join(terms)

    def _fenced(self, query: Sql) -> Sql:
        """A subquery that makes its documents kept as one: the stages after it read `data`
        several times, and neither engine may fold it into them (each read would make the
        document again: a $lookup's subquery, once for each)."""
        return sql(query, " LIMIT -1" if self.sqlite else " OFFSET 0")

    def _stage(self, relation: _Relation, stage: Stage, sources: Mapping[str, Source]) -> _Relation:
        alias = self._alias()
        keys = self._keys(relation)
        if isinstance(stage, Match):
            where = self._filters.compile(stage.filter.condition)
            query = sql(
                f"SELECT data{keys} FROM (",
                relation.query,
                f") AS {alias} WHERE ",
                Sql(where.sql, where.params),
            )
            return _Relation(query, relation.order)
        if isinstance(stage, Sort):
            return self._sort(relation, stage, alias)
        if isinstance(stage, Skip | Limit):
            limit = stage.count if isinstance(stage, Limit) else -1 if self.sqlite else None
            offset = stage.count if isinstance(stage, Skip) else 0
            bound = f" LIMIT {limit}" if limit is not None else ""
            query = sql(
                f"SELECT data{keys} FROM (",
                relation.query,
                f") AS {alias}{self._order_by(relation)}{bound} OFFSET {offset}",
            )
            return _Relation(query, relation.order)
        if isinstance(stage, Group):
            return self._group(relation, stage, alias)
        if isinstance(stage, Project):
            document = self._project(stage)
            query = sql(
                "SELECT ", document, f" AS data{keys} FROM (", relation.query, f") AS {alias}"
            )
            return _Relation(self._fenced(query), relation.order)
        if isinstance(stage, Unwind):
            return self._unwind(relation, stage, alias)
        if isinstance(stage, Count):
            count = "COUNT(*)" if self.sqlite else "to_jsonb(COUNT(*))"
            query = sql(
                "SELECT ",
                self._object([(stage.name, Sql(count))]),
                " AS data FROM (",
                relation.query,
                f") AS {alias} HAVING COUNT(*) > 0",
            )
            return _Relation(query, ())
        if isinstance(stage, Lookup):
            return self._lookup(relation, stage, sources[stage.source], alias)
        raise TypeError(f"not a stage: {stage!r}")

    # -- values -------------------------------------------------------------------------

    def value(self, path: FieldPath, column: str = "data") -> str:
        """The JSON value at path (SQL NULL when missing)."""
        if self.sqlite:
            return f"({column} -> '{json_path(path)}')"
        return POSTGRES.json_value(path, column)

    def json_type(self, value: str) -> str:
        """'null' 'boolean' 'number' 'string' 'array' 'object', or NULL when missing."""
        if self.sqlite:
            return (
                f"(CASE json_type({value}) WHEN 'integer' THEN 'number' WHEN 'real' THEN 'number'"
                f" WHEN 'text' THEN 'string' WHEN 'true' THEN 'boolean' WHEN 'false' THEN 'boolean'"
                f" ELSE json_type({value}) END)"
            )
        return f"jsonb_typeof({value})"

    def number(self, value: Sql | str) -> Sql:
        """The value as an SQL number, NULL unless it is a JSON number."""
        if self.sqlite:
            return sql(
                "(CASE WHEN json_type(",
                value,
                ") IN ('integer', 'real') THEN ",
                value,
                " ->> '$' END)",
            )
        return sql(
            "(CASE WHEN jsonb_typeof(", value, ") = 'number' THEN (", value, ")::numeric END)"
        )

    def text(self, value: Sql | str) -> Sql:
        """The value as SQL text, NULL unless it is a JSON string."""
        if self.sqlite:
            return sql("(CASE WHEN json_type(", value, ") = 'text' THEN ", value, " ->> '$' END)")
        return sql("(CASE WHEN jsonb_typeof(", value, ") = 'string' THEN ", value, " #>> '{}' END)")

    def expression(self, expr: Expression) -> Sql:
        """The expression's JSON value."""
        if isinstance(expr, FieldRef):
            return Sql(self.value(expr.path))
        if isinstance(expr, Constant):
            return Sql(
                "json(?)" if self.sqlite else "?::jsonb", [orjson.dumps(expr.value).decode()]
            )
        if isinstance(expr, ObjectOf):
            return self._object([(name, self.expression(item)) for name, item in expr.fields])
        if isinstance(expr, Arithmetic):
            return self._arithmetic(expr)
        if isinstance(expr, DateToString):
            return self._date_to_string(expr)
        if isinstance(expr, Kept):
            made = self._members([(name, self.expression(item)) for name, item in expr.members])
            if expr.always:
                return made
            if self.sqlite:
                kind = f"json_type(data, '{json_path(expr.path)}')"
            else:
                kind = f"jsonb_typeof({self.value(expr.path)})"
            return sql(f"(CASE WHEN {kind} = 'object' THEN ", made, " END)")
        raise TypeError(f"not an expression: {expr!r}")

    def _arithmetic(self, expr: Arithmetic) -> Sql:
        body = self._arithmetic_number(expr)
        if self.sqlite:
            return self._sqlite_number(body)
        return sql("COALESCE(to_jsonb(", body, "), 'null'::jsonb)")

    def _arithmetic_number(self, expr: Arithmetic) -> Sql:
        """The arithmetic as an SQL number (NULL unless every operand is a number); operands
        that are arithmetic too stay numbers, never written as JSON and read again."""
        operands = [self._number_of(item) for item in expr.operands]
        symbol = {"add": " + ", "subtract": " - ", "multiply": " * ", "divide": " / "}[expr.op]
        if expr.op == "divide":
            left, right = operands
            if self.sqlite:  # SQLite divides integers as integers: 7 / 2 is 3
                left = sql("CAST(", left, " AS REAL)")
            else:
                left, right = sql("(", left, ")::float8"), sql("(", right, ")::float8")
            body = sql("(", left, " / NULLIF(", right, ", 0))")
        else:
            body = sql("(", joined(symbol, operands), ")")
        return body

    def _date_to_string(self, expr: DateToString) -> Sql:
        stored = self.value(expr.date.path)
        if self.sqlite:
            # the stored time is UTC text (2026-01-01T00:00:00.000000Z); the zone's offset at
            # that instant, in minutes, comes from minibase_utc_offset (store/sqlite.py); an
            # offset is whole minutes, so the milliseconds (%L) are the stored ones
            text = f"({stored} ->> '$')"
            local = f"substr({text}, 1, 19), minibase_utc_offset({text}, ?) || ' minutes'"
            pieces: list[Sql] = []
            for segment in date_segments(expr.format):
                if segment is None:
                    pieces.append(Sql(f"substr({text}, 21, 3)"))
                elif segment:
                    pieces.append(Sql(f"strftime(?, {local})", [segment, expr.timezone]))
            made = joined(" || ", pieces) if pieces else Sql("''")
            return sql(f"(CASE WHEN json_type({stored}) = 'text' THEN json_quote(", made, ") END)")
        text = f"({stored} #>> '{{}}')"
        # "+08:00" as text would be a POSIX zone, its sign the other way round: an interval
        zone = "::text::interval" if FIXED_OFFSET.fullmatch(expr.timezone) else ""
        return Sql(
            f"(CASE WHEN jsonb_typeof({stored}) = 'string' THEN"
            f" to_jsonb(to_char(({text})::timestamptz AT TIME ZONE ?{zone}, ?)) END)",
            [expr.timezone, postgres_date_format(expr.format)],
        )

    @staticmethod
    def _sqlite_number(number: Sql | str) -> Sql:
        """An SQL number (or text, or NULL) as JSON on SQLite. It writes a real with 15
        digits (1/3 as 0.333333333333333): with 17 instead, it reads back as the same double
        (the answer is written again with the shortest digits, data/aggregate.py)."""
        return sql(
            "(CASE WHEN typeof(",
            number,
            ") = 'real' THEN json(printf('%!.17g', ",
            number,
            ")) ELSE json_quote(",
            number,
            ") END)",
        )

    # -- stages -------------------------------------------------------------------------

    def _sort(self, relation: _Relation, stage: Sort, alias: str) -> _Relation:
        columns: list[str] = []
        order: list[bool] = []
        for path, descending in stage.keys:
            value = self.value(path)
            rank = (
                f"(CASE {self.json_type(value)} WHEN 'number' THEN 1 WHEN 'string' THEN 2"
                " WHEN 'object' THEN 3 WHEN 'array' THEN 4 WHEN 'boolean' THEN 5 ELSE 0 END)"
            )
            # null and missing alike (NULL), so that they tie, and earlier keys decide
            if self.sqlite:
                plain = f"json_extract(data, '{json_path(path)}')"
            else:
                plain = f"(CASE WHEN jsonb_typeof({value}) <> 'null' THEN {value} END)"
            columns += [rank, plain]
            order += [descending, descending]
        # the keys before this sort break its ties
        previous = [f"k{i}" for i in range(len(relation.order))]
        selected = ", ".join(f"{expr} AS k{i}" for i, expr in enumerate([*columns, *previous]))
        query = sql(f"SELECT data, {selected} FROM (", relation.query, f") AS {alias}")
        return _Relation(query, (*order, *relation.order))

    def _group(self, relation: _Relation, stage: Group, alias: str) -> _Relation:
        # what each row brings is computed first, as columns of their own: the key's parts
        # (g0 ...: the groups are their values, and the key is made of them again) and the
        # accumulators' arguments (a0 ...), so the rows grouped carry no documents
        parts = list(stage.key.fields) if isinstance(stage.key, ObjectOf) else [("", stage.key)]
        columns: list[Sql] = []
        for i, (_, part) in enumerate(parts):
            if isinstance(part, Constant):
                continue
            columns.append(sql(", ", self.expression(part), f" AS g{i}"))
            if self.sqlite and isinstance(part, FieldRef):
                # its kind and value, to group by: read from the document, parsed once a row
                path = json_path(part.path)
                columns.append(
                    Sql(
                        f", json_type(data, '{path}') AS gk{i},"
                        f" json_extract(data, '{path}') AS gv{i}"
                    )
                )
        accumulated = [
            self._accumulate(acc, j, relation) for j, (_, acc) in enumerate(stage.outputs)
        ]
        for arguments, _ in accumulated:
            columns += [sql(", ", argument) for argument in arguments]
        pushes = any(acc.op == "push" for _, acc in stage.outputs)
        keys = self._keys(relation) if pushes else ""
        inner = sql(f"SELECT 1{keys}", *columns, " FROM (", relation.query, f") AS {alias}_g")
        if self.sqlite and relation.order and pushes:
            # SQLite's aggregates take rows in the order they come: a $push follows the order
            # set so far (no other accumulator depends on it: no sort for them)
            inner = sql(inner, self._order_by(relation))
        grouped: list[str] = []
        key_parts: list[Sql] = []
        for i, (_, part) in enumerate(parts):
            if isinstance(part, Constant):
                key_parts.append(self.expression(part))
            elif self.sqlite:  # numbers as one kind: 1 and 1.0 group together
                if isinstance(part, FieldRef):
                    kind, plain = f"gk{i}", f"gv{i}"
                else:
                    kind, plain = f"json_type(g{i})", f"json_extract(g{i}, '$')"
                grouped += [f"COALESCE({self._same_kind(kind)}, 'null')", plain]
                key_parts.append(Sql(f"g{i}"))
            else:
                grouped.append(f"COALESCE(g{i}, 'null'::jsonb)")
                key_parts.append(Sql(f"COALESCE(g{i}, 'null'::jsonb)"))
        if isinstance(stage.key, ObjectOf):
            key = self._object(
                [(name, part) for (name, _), part in zip(parts, key_parts, strict=True)]
            )
        else:
            key = key_parts[0]
        outputs = [("_id", key)]
        outputs += [
            (name, aggregate)
            for (name, _), (_, aggregate) in zip(stage.outputs, accumulated, strict=True)
        ]
        group_by = f" GROUP BY {', '.join(grouped)}" if grouped else ""
        query = sql(
            "SELECT ",
            self._object(outputs),
            " AS data FROM (",
            inner,
            f") AS {alias}",
            f"{group_by} HAVING COUNT(*) > 0",
        )
        return _Relation(query, ())

    def _object(self, fields: Sequence[tuple[str, Sql]]) -> Sql:
        """A JSON object of (name, JSON value) pairs; a missing value is JSON null."""
        if self.sqlite:
            members = [sql(f"'{name}', json(", value, ")") for name, value in fields]
            return sql("json_object(", joined(", ", members), ")")
        members = [sql(f"'{name}', COALESCE(", value, ", 'null'::jsonb)") for name, value in fields]
        return sql("jsonb_build_object(", joined(", ", members), ")")

    def _accumulate(
        self, accumulator: Accumulator, j: int, relation: _Relation
    ) -> tuple[list[Sql], Sql]:
        """The columns a row brings to an accumulator (`... AS a{j}`), and the aggregate over
        them, as a JSON value."""
        op, a = accumulator.op, f"a{j}"
        if op == "count":
            return [], Sql("COUNT(*)" if self.sqlite else "to_jsonb(COUNT(*))")
        constant = accumulator.of.value if isinstance(accumulator.of, Constant) else None
        if op == "sum" and type(constant) in (int, float):  # {"$sum": 1}: a count, at once
            if self.sqlite:
                return [], self._sqlite_number(Sql("(COUNT(*) * ?)", [constant]))
            return [], Sql("to_jsonb(COUNT(*) * ?::numeric)", [constant])
        if op in ("sum", "avg"):
            arguments = [sql(self._number_of(accumulator.of), f" AS {a}")]
            if self.sqlite:
                func = f"COALESCE(SUM({a}), 0)" if op == "sum" else f"AVG({a})"
                return arguments, self._sqlite_number(func)
            if op == "avg":
                return arguments, Sql(f"COALESCE(to_jsonb(AVG({a}::float8)), 'null'::jsonb)")
            # whole numbers as 64-bit integers, as on SQLite (past them: out of range)
            total = f"COALESCE(SUM({a}), 0)"
            return arguments, Sql(
                f"(CASE WHEN scale({total}) = 0 THEN to_jsonb(({total})::bigint)"
                f" ELSE to_jsonb({total}) END)"
            )
        value = self.expression(accumulator.of)
        if op in ("min", "max"):
            func = op.upper()
            if self.sqlite:
                # SQLite orders numbers before text, as MongoDB does; booleans, objects and
                # arrays take no part
                scalar = sql(
                    "(CASE WHEN json_type(",
                    value,
                    ") IN ('integer', 'real', 'text') THEN ",
                    value,
                    " ->> '$' END)",
                )
                return [sql(scalar, f" AS {a}")], self._sqlite_number(f"{func}({a})")
            arguments = [sql(self.number(value), f" AS {a}"), sql(self.text(value), f" AS {a}t")]
            numbers, texts = f"to_jsonb({func}({a}))", f"to_jsonb({func}({a}t))"
            first, second = (numbers, texts) if op == "min" else (texts, numbers)
            return arguments, Sql(f"COALESCE({first}, {second}, 'null'::jsonb)")
        arguments = [sql(value, f" AS {a}")]
        distinct = "DISTINCT " if op == "addToSet" else ""
        if self.sqlite:
            return arguments, Sql(
                f"json_group_array({distinct}json({a})) FILTER (WHERE {a} IS NOT NULL)"
            )
        ordered = "" if distinct else self._order_by(relation)
        return arguments, Sql(
            f"COALESCE(jsonb_agg({distinct}{a}{ordered}) FILTER (WHERE {a} IS NOT NULL),"
            " '[]'::jsonb)"
        )

    def _number_of(self, expr: Expression) -> Sql:
        """An expression's value as an SQL number (NULL unless a JSON number); a field read
        straight from the document on SQLite, without its JSON text made first."""
        if self.sqlite and isinstance(expr, FieldRef):
            path = json_path(expr.path)
            return Sql(
                f"(CASE WHEN json_type(data, '{path}') IN ('integer', 'real')"
                f" THEN json_extract(data, '{path}') END)"
            )
        if isinstance(expr, Arithmetic):
            return self._arithmetic_number(expr)
        if isinstance(expr, Constant) and type(expr.value) in (int, float):
            return Sql("?" if self.sqlite else "?::numeric", [expr.value])
        return self.number(self.expression(expr))

    def _project(self, stage: Project) -> Sql:
        if stage.kept is None:
            if self.sqlite:
                paths = ", ".join(f"'{json_path(path)}'" for path in stage.removed)
                return Sql(f"json_remove(data, {paths})")
            document = "data"
            for path in stage.removed:
                # #- refuses a name step into an array: such a path holds nothing to remove
                steps = [
                    f"jsonb_typeof({self.value(path[:i])}) = 'object'"
                    for i in range(1, len(path))
                    if not path[i].isdigit()
                ]
                removed = f"{document} #- '{{{','.join(path)}}}'"
                if steps:
                    removed = f"CASE WHEN {' AND '.join(steps)} THEN {removed} ELSE {document} END"
                document = f"({removed})"
            return Sql(document)
        fields: list[tuple[str, Expression]] = []
        if ("_id",) not in stage.removed and "_id" not in {name for name, _ in stage.kept}:
            fields.append(("_id", FieldRef(("_id",))))
        fields.extend(stage.kept)
        return self._members([(name, self.expression(expr)) for name, expr in fields])

    def _members(self, values: Sequence[tuple[str, Sql]]) -> Sql:
        """An object of these members, leaving out each whose value is missing (NULL)."""
        if self.sqlite:
            members = [sql(f"'{name}', json(", value, ")") for name, value in values]
            # a missing value leaves its field out (`$."-"`: a path no field has)
            gone = [
                sql("CASE WHEN ", value, f" IS NULL THEN '$.{name}' ELSE '$.\"-\"' END")
                for name, value in values
            ]
            return sql(
                "json_remove(json_object(", joined(", ", members), "), ", joined(", ", gone), ")"
            )
        members = [sql(f"'{name}', ", value) for name, value in values]
        gone = [sql("CASE WHEN ", value, f" IS NULL THEN '{name}' END") for name, value in values]
        return sql(
            "(jsonb_build_object(",
            joined(", ", members),
            ") - ARRAY_REMOVE(ARRAY[",
            joined(", ", gone),
            "]::text[], NULL))",
        )

    def _unwind(self, relation: _Relation, stage: Unwind, alias: str) -> _Relation:
        column = f"{alias}.data"
        value = self.value(stage.path, column)
        keys = self._keys(relation, f"{alias}.")
        join = "LEFT JOIN" if stage.keep_empty else "JOIN"
        n = len(relation.order)
        if self.sqlite:
            path = json_path(stage.path)
            kind = f"json_type({column}, '{path}')"
            items = (
                f"(CASE WHEN {kind} = 'array' THEN {value}"
                f" WHEN {kind} IS NULL OR {kind} = 'null' THEN '[]'"
                f" ELSE json_array(json({value})) END)"
            )
            element = (
                f"(CASE WHEN {kind} = 'array' THEN {column} -> ('{path}[' || e.key || ']')"
                f" ELSE {value} END)"
            )
            index = f"(CASE WHEN {kind} = 'array' THEN e.key END)"
            unwound = f"json_set({column}, '{path}', json({element}))"
            emptied = f"json_remove({column}, '{path}')"
            kept = f"(CASE WHEN {kind} = 'array' THEN {emptied} ELSE {column} END)"
            document = f"(CASE WHEN e.key IS NULL THEN {kept} ELSE {unwound} END)"
            if stage.index_as:
                document = f"json_set({document}, '$.{stage.index_as}', {index})"
            query = sql(
                f"SELECT {document} AS data{keys}, e.key AS k{n} FROM (",
                relation.query,
                f") AS {alias} {join} json_each({items}) AS e ON 1",
            )
        else:
            kind = f"jsonb_typeof({value})"
            items = (
                f"(CASE WHEN {kind} = 'array' THEN {value}"
                f" WHEN {value} IS NULL OR {kind} = 'null' THEN '[]'::jsonb"
                f" ELSE jsonb_build_array({value}) END)"
            )
            steps = ",".join(stage.path)
            index = (
                f"COALESCE(CASE WHEN {kind} = 'array' THEN to_jsonb(e.n - 1) END, 'null'::jsonb)"
            )
            unwound = f"jsonb_set({column}, '{{{steps}}}', e.value)"
            kept = f"(CASE WHEN {kind} = 'array' THEN {column} #- '{{{steps}}}' ELSE {column} END)"
            document = f"(CASE WHEN e.n IS NULL THEN {kept} ELSE {unwound} END)"
            if stage.index_as:
                document = f"jsonb_set({document}, '{{{stage.index_as}}}', {index})"
            query = sql(
                f"SELECT {document} AS data{keys}, e.n AS k{n} FROM (",
                relation.query,
                f") AS {alias} {join} LATERAL jsonb_array_elements({items})"
                " WITH ORDINALITY AS e(value, n) ON TRUE",
            )
        return _Relation(self._fenced(query), (*relation.order, False))

    @staticmethod
    def _same_kind(sqlite_type: str) -> str:
        """SQLite's json_type, with integers and reals one kind."""
        return f"(CASE {sqlite_type} WHEN 'integer' THEN 'real' ELSE {sqlite_type} END)"

    def _lookup(self, relation: _Relation, stage: Lookup, source: Source, alias: str) -> _Relation:
        column = f"{alias}.data"
        local = self.value(stage.local, column)
        foreign = stage.foreign
        keys = self._keys(relation, f"{alias}.")
        system = SYSTEM_COLUMNS.get(foreign[0]) if len(foreign) == 1 else None
        if self.sqlite:
            if system is not None:
                as_column = self.number(local) if system == "number" else self.text(local)
                match = f"{foreign[0]} = {as_column.text}"
            else:
                path = json_path(foreign)
                there = f"json_type(data, '{path}')"
                scalar = f"(CASE WHEN json_type({local}) NOT IN ('null', 'object', 'array')"
                match = (
                    f"json_extract(data, '{path}') = {scalar} THEN {local} ->> '$' END)"
                    f" AND {self._same_kind(there)} = {self._same_kind(f'json_type({local})')}"
                )
            found = sql(
                "(SELECT json_group_array(json(data)) FROM (SELECT data FROM ",
                f"{source.table} WHERE ",
                source.visible,
                f" AND {match} ORDER BY _id))",
            )
            document = sql(f"json_set({column}, '$.{stage.into}', json(", found, "))")
        else:
            if system is not None:
                as_column = self.number(local) if system == "number" else self.text(local)
                match = f"{foreign[0]} = {as_column.text}"
            else:
                match = (
                    f"{self.value(foreign)} = {local}"
                    f" AND jsonb_typeof({local}) NOT IN ('null', 'object', 'array')"
                )
            found = sql(
                "(SELECT COALESCE(jsonb_agg(data ORDER BY _id), '[]'::jsonb) FROM ",
                f"{source.table} WHERE ",
                source.visible,
                f" AND {match})",
            )
            document = sql(f"jsonb_set({column}, '{{{stage.into}}}', ", found, ")")
        query = sql("SELECT ", document, f" AS data{keys} FROM (", relation.query, f") AS {alias}")
        return _Relation(self._fenced(query), relation.order)


def date_segments(text: str) -> list[str | None]:
    """A $dateToString format cut at its milliseconds: the parts strftime writes, and None for
    each %L (SQLite's strftime has no milliseconds of their own)."""
    out: list[str | None] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "%" and text[i + 1 : i + 2] == "L":
            out += ["".join(current), None]
            current = []
            i += 2
            continue
        step = 2 if text[i] == "%" else 1
        current.append(text[i : i + step])
        i += step
    out.append("".join(current))
    return out


def postgres_date_format(text: str) -> str:
    """A $dateToString format (%Y %m %d %H %M %S %L %%) as PostgreSQL's to_char pattern: the
    fields as its codes, everything else quoted, so no letter is read as a code."""
    codes = {"Y": "YYYY", "m": "MM", "d": "DD", "H": "HH24", "M": "MI", "S": "SS", "L": "MS"}
    out: list[str] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "%" and i + 1 < len(text) and text[i + 1] in codes:
            if literal:
                out.append('"' + "".join(literal).replace("\\", "\\\\").replace('"', '\\"') + '"')
                literal = []
            out.append(codes[text[i + 1]])
            i += 2
            continue
        if text[i] == "%" and i + 1 < len(text) and text[i + 1] == "%":
            literal.append("%")
            i += 2
            continue
        literal.append(text[i])
        i += 1
    if literal:
        out.append('"' + "".join(literal).replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "".join(out)

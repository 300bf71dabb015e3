"""A plain Python reading of an aggregation pipeline: what each stage means, for the tests to
hold both engines' SQL to (tests/store/test_pipeline_agrees_with_python.py).

Records come in `_id` order; a `$sort` is stable (earlier order breaks its ties); `$group` and
`$count` make documents in no particular order.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from minibase.rules.conditions import MISSING, FieldPath, evaluate, resolve
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
    Pipeline,
    Project,
    Skip,
    Sort,
    Unwind,
)

Doc = dict[str, Any]


def run(
    pipeline: Pipeline, records: Sequence[Doc], sources: Mapping[str, Sequence[Doc]]
) -> list[Doc]:
    docs = [copy.deepcopy(record) for record in sorted(records, key=lambda r: r["_id"])]
    for stage in pipeline.stages:
        docs = _stage(stage, docs, sources)
    return docs


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def evaluate_expression(expr: Expression, doc: Doc) -> Any:
    if isinstance(expr, FieldRef):
        return resolve(doc, expr.path)
    if isinstance(expr, Constant):
        return copy.deepcopy(expr.value)
    if isinstance(expr, ObjectOf):
        out = {}
        for name, item in expr.fields:
            value = evaluate_expression(item, doc)
            out[name] = None if value is MISSING else value
        return out
    if isinstance(expr, Arithmetic):
        values = [evaluate_expression(item, doc) for item in expr.operands]
        if not all(_number(value) for value in values):
            return None
        if expr.op == "add":
            return sum(values)
        if expr.op == "subtract":
            return values[0] - values[1]
        if expr.op == "multiply":
            product = 1
            for value in values:
                product *= value
            return product
        return None if values[1] == 0 else values[0] / values[1]
    if isinstance(expr, Kept):
        if not expr.always and not isinstance(resolve(doc, expr.path), dict):
            return MISSING
        made = {}
        for name, item in expr.members:
            value = evaluate_expression(item, doc)
            if value is not MISSING:
                made[name] = value
        return made
    if isinstance(expr, DateToString):
        stored = resolve(doc, expr.date.path)
        if not isinstance(stored, str):
            return MISSING
        at = datetime.strptime(stored[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
        fixed = FIXED_OFFSET.fullmatch(expr.timezone)
        if fixed:
            sign = -1 if expr.timezone[0] == "-" else 1
            local = at + sign * timedelta(
                hours=int(expr.timezone[1:3]), minutes=int(expr.timezone[4:6])
            )
        else:
            local = at.astimezone(ZoneInfo(expr.timezone))
        millis = f"{at.microsecond // 1000:03d}"
        parts = expr.format.split("%%")  # %L: the milliseconds; %% stays a per cent sign
        return "%".join(local.strftime(part.replace("%L", millis)) for part in parts)
    raise TypeError(expr)


def _group_identity(value: Any) -> Any:
    """Equal keys group together: numbers by value (1 and 1.0), never with booleans."""
    if value is MISSING or value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if _number(value):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    return ("json", orjson.dumps(value))


def _accumulate(accumulator: Accumulator, docs: Sequence[Doc]) -> Any:
    if accumulator.op == "count":
        return len(docs)
    values = [evaluate_expression(accumulator.of, doc) for doc in docs]
    values = [value for value in values if value is not MISSING]
    numbers = [value for value in values if _number(value)]
    strings = [value for value in values if isinstance(value, str)]
    if accumulator.op == "sum":
        return sum(numbers)
    if accumulator.op == "avg":
        return sum(numbers) / len(numbers) if numbers else None
    if accumulator.op == "min":
        return min(numbers) if numbers else min(strings) if strings else None
    if accumulator.op == "max":
        return max(strings) if strings else max(numbers) if numbers else None
    if accumulator.op == "push":
        return values
    found: dict[bytes, Any] = {}  # distinct as their JSON is (see store/pipeline.py)
    for value in values:
        found.setdefault(orjson.dumps(value), value)
    return list(found.values())


def _group(stage: Group, docs: Sequence[Doc]) -> list[Doc]:
    groups: dict[Any, tuple[Any, list[Doc]]] = {}
    for doc in docs:
        key = evaluate_expression(stage.key, doc)
        key = None if key is MISSING else key
        if isinstance(stage.key, ObjectOf):
            identity: Any = tuple(_group_identity(value) for value in key.values())
        else:
            identity = _group_identity(key)
        groups.setdefault(identity, (key, []))[1].append(doc)
    out = []
    for key, members in groups.values():
        doc = {"_id": key}
        for name, accumulator in stage.outputs:
            doc[name] = _accumulate(accumulator, members)
        out.append(doc)
    return out


RANKS = {"number": 1, "string": 2, "object": 3, "array": 4, "bool": 5}


def sort_key(value: Any) -> tuple[int, Any]:
    if value is MISSING or value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (5, value)
    if _number(value):
        return (1, value)
    if isinstance(value, str):
        return (2, value.encode())
    return (3 if isinstance(value, dict) else 4, orjson.dumps(value))


def _sort(stage: Sort, docs: list[Doc]) -> list[Doc]:
    for path, descending in reversed(stage.keys):
        docs = sorted(docs, key=lambda doc: sort_key(resolve(doc, path)), reverse=descending)
    return docs


def _set(doc: Doc, path: FieldPath, value: Any) -> None:
    node: Any = doc
    for segment in path[:-1]:
        node = node[int(segment)] if isinstance(node, list) else node[segment]
    last = path[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def _remove(doc: Doc, path: FieldPath) -> None:
    node: Any = doc
    for segment in path[:-1]:
        if isinstance(node, dict) and segment in node:
            node = node[segment]
        elif isinstance(node, list) and segment.isdigit() and int(segment) < len(node):
            node = node[int(segment)]
        else:
            return
    last = path[-1]
    if isinstance(node, dict):
        node.pop(last, None)
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        del node[int(last)]


def _project(stage: Project, docs: list[Doc]) -> list[Doc]:
    out = []
    for doc in docs:
        if stage.kept is None:
            projected = copy.deepcopy(doc)
            for path in stage.removed:
                _remove(projected, path)
        else:
            projected = {}
            fields: list[tuple[str, Expression]] = []
            names = {name for name, _ in stage.kept}
            if ("_id",) not in stage.removed and "_id" not in names:
                fields.append(("_id", FieldRef(("_id",))))
            fields += list(stage.kept)
            for name, expr in fields:
                value = evaluate_expression(expr, doc)
                if value is not MISSING:
                    projected[name] = value
        out.append(projected)
    return out


def _unwind(stage: Unwind, docs: list[Doc]) -> list[Doc]:
    out = []
    for doc in docs:
        value = resolve(doc, stage.path)
        if isinstance(value, list) and value:
            for i, item in enumerate(value):
                unwound = copy.deepcopy(doc)
                _set(unwound, stage.path, copy.deepcopy(item))
                if stage.index_as:
                    unwound[stage.index_as] = i
                out.append(unwound)
            continue
        if isinstance(value, list) or value is MISSING or value is None:
            if not stage.keep_empty:
                continue
            kept = copy.deepcopy(doc)
            if isinstance(value, list):
                _remove(kept, stage.path)
            if stage.index_as:
                kept[stage.index_as] = None
            out.append(kept)
            continue
        single = copy.deepcopy(doc)
        if stage.index_as:
            single[stage.index_as] = None
        out.append(single)
    return out


def _matches(local: Any, foreign: Any) -> bool:
    if local is MISSING or local is None or isinstance(local, dict | list):
        return False
    if isinstance(local, bool) or isinstance(foreign, bool):
        return isinstance(local, bool) and isinstance(foreign, bool) and local == foreign
    if _number(local):
        return _number(foreign) and local == foreign
    return isinstance(foreign, str) and local == foreign


def _lookup(stage: Lookup, docs: list[Doc], sources: Mapping[str, Sequence[Doc]]) -> list[Doc]:
    foreign = sorted(sources[stage.source], key=lambda r: r["_id"])
    out = []
    for doc in docs:
        local = resolve(doc, stage.local)
        joined = copy.deepcopy(doc)
        joined[stage.into] = [
            copy.deepcopy(f) for f in foreign if _matches(local, resolve(f, stage.foreign))
        ]
        out.append(joined)
    return out


def _stage(stage: Any, docs: list[Doc], sources: Mapping[str, Sequence[Doc]]) -> list[Doc]:
    handlers: dict[type, Callable[[], list[Doc]]] = {
        Match: lambda: [doc for doc in docs if evaluate(stage.filter.condition, doc)],
        Group: lambda: _group(stage, docs),
        Sort: lambda: _sort(stage, docs),
        Skip: lambda: docs[stage.count :],
        Limit: lambda: docs[: stage.count],
        Project: lambda: _project(stage, docs),
        Unwind: lambda: _unwind(stage, docs),
        Count: lambda: [{stage.name: len(docs)}] if docs else [],
        Lookup: lambda: _lookup(stage, docs, sources),
    }
    return handlers[type(stage)]()

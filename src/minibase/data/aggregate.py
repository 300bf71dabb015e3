"""Aggregations: `POST /api/collections/{name}/aggregate` with a pipeline, run as one statement.

The list rule of every collection the pipeline reads (the collection itself, each `$lookup`'s)
is applied first, exactly as for lists: a caller aggregates only what it could list. The
statement has a time budget and the answer a size bound, each a clear 400 when passed.
"""

from __future__ import annotations

from typing import Any

import orjson

from minibase.auth.caller import Caller
from minibase.data.access import rule_condition
from minibase.data.known_paths import check_filter_paths, checked_filter, stray_path
from minibase.errors import ApiError
from minibase.rules.conditions import FieldPath, all_of
from minibase.rules.pipeline import (
    Arithmetic,
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
    PipelineError,
    Project,
    Skip,
    Sort,
    Stage,
    Unwind,
    parse_pipeline,
)
from minibase.services import Services
from minibase.store.collections import Collection
from minibase.store.database import NumberOutOfRange, TimeBudgetSpent
from minibase.store.pipeline import PipelineCompiler, Source, Sql

DATE_TYPES = frozenset({"datetime"})


def parse(body: Any) -> Pipeline:
    """The request body `{"pipeline": [...]}` (or the list itself) as a pipeline."""
    stages = body.get("pipeline") if isinstance(body, dict) else body
    try:
        return parse_pipeline(stages)
    except PipelineError as exc:
        raise ApiError("aggregate.invalid_pipeline", 400, exc.message, {"at": exc.at}) from None


async def aggregate(services: Services, caller: Caller, name: str, body: Any) -> bytes:
    """The documents the body's pipeline makes, as the JSON the API answers with:
    `{"items": [...]}`. The body is `{"pipeline": [...]}`, or a parsed Pipeline."""
    settings = services.settings
    collection = await services.collections.get(name)
    pipeline = body if isinstance(body, Pipeline) else parse(body)
    visible = rule_condition(caller, collection, "list")
    stages = list(pipeline.stages)
    _check_records_paths(collection, stages)
    leading = []
    while stages and isinstance(stages[0], Match):
        first = stages.pop(0)
        assert isinstance(first, Match)
        leading.append(checked_filter(collection, first.filter))  # $search bound
    dialect = services.db.dialect
    where = collection.compiler(dialect).compile(all_of(visible, *leading))
    base = Source(collection.table, Sql(where.sql, where.params))
    sources: dict[str, Source] = {}
    for lookup in pipeline.lookups:
        sources[lookup.source] = await _source(services, caller, lookup)
    most = settings.aggregate_max_results
    statement = PipelineCompiler(dialect).compile(base, stages, sources, most)
    try:
        rows = await services.db.fetch_all_within(
            settings.aggregate_budget, statement.text, *statement.params
        )
    except TimeBudgetSpent:
        ms = round(settings.aggregate_budget * 1000)
        raise ApiError(
            "aggregate.too_slow",
            400,
            f"the aggregation took longer than {ms} ms: begin with a $match that an index"
            " serves, narrow it, or aggregate fewer records",
            {"budget_ms": ms},
        ) from None
    except NumberOutOfRange:
        raise ApiError(
            "aggregate.out_of_range",
            400,
            "a $sum left the range of 64-bit integers: sum fewer records, or store the values"
            " as decimals",
        ) from None
    if len(rows) > most:
        raise ApiError(
            "aggregate.too_large",
            400,
            f"the aggregation makes more than {most} documents: end the pipeline with a $limit",
            {"max_results": most},
        )
    # written again, both engines alike: numbers in their shortest digits, jsonb's own text
    documents = [orjson.dumps(orjson.loads(row[0])) for row in rows]
    size = sum(len(document) for document in documents) + len(documents) + 12
    if size > settings.aggregate_max_bytes:
        raise ApiError(
            "aggregate.too_large",
            400,
            f"the aggregation's answer is larger than {settings.aggregate_max_bytes:,} bytes:"
            " $project fewer fields or $limit the documents",
            {"max_bytes": settings.aggregate_max_bytes},
        )
    return b'{"items":[' + b",".join(documents) + b"]}"


async def _source(services: Services, caller: Caller, lookup: Lookup) -> Source:
    collection = await services.collections.get(lookup.source)
    check_filter_paths(collection, [lookup.foreign])
    visible = collection.compiler(services.db.dialect).compile(
        rule_condition(caller, collection, "list")
    )
    return Source(collection.table, Sql(visible.sql, visible.params))


def _check_records_paths(collection: Collection, stages: list[Stage]) -> None:
    """Paths read while the documents are still the collection's records must be paths a record
    can hold (as in lists), and a $dateToString must read a record's time."""
    on_records = True
    for i, stage in enumerate(stages):
        at = f"pipeline.{i}"
        expressions = _expressions(stage)
        if on_records:
            for path in _paths(stage, expressions):
                stray = stray_path(collection, path)
                if stray is not None:
                    raise ApiError(
                        "aggregate.invalid_pipeline",
                        400,
                        stray.message,
                        {"at": at, **stray.details()},
                    )
        for expression in expressions:
            for date in _dates(expression):
                path = date.date.path
                kind = collection.schema.type_at(path) if path[0] != "_" else None
                if path not in (("_created",), ("_updated",)) and kind not in DATE_TYPES:
                    raise ApiError(
                        "aggregate.invalid_pipeline",
                        400,
                        f"$dateToString reads a time: _created, _updated or a datetime field,"
                        f" and {'.'.join(path)} is not one",
                        {"at": date.at or at},
                    )
        on_records = on_records and isinstance(stage, Match | Sort | Skip | Limit)


def _paths(stage: Stage, expressions: list[Expression]) -> list[FieldPath]:
    """The record paths a stage reads."""
    paths = [ref.path for expression in expressions for ref in _refs(expression)]
    if isinstance(stage, Match):
        paths += sorted(stage.filter.paths)
    elif isinstance(stage, Sort):
        paths += [path for path, _ in stage.keys]
    elif isinstance(stage, Unwind):
        paths.append(stage.path)
    elif isinstance(stage, Lookup):
        paths.append(stage.local)
    elif isinstance(stage, Project):
        paths += list(stage.removed)
    return paths


def _expressions(stage: Stage) -> list[Expression]:
    if isinstance(stage, Group):
        return [stage.key, *(accumulator.of for _, accumulator in stage.outputs)]
    if isinstance(stage, Project) and stage.kept is not None:
        return [expression for _, expression in stage.kept]
    return []


def _refs(expression: Expression) -> list[FieldRef]:
    if isinstance(expression, FieldRef):
        return [expression]
    if isinstance(expression, DateToString):
        return [expression.date]
    if isinstance(expression, ObjectOf):
        return [ref for _, item in expression.fields for ref in _refs(item)]
    if isinstance(expression, Arithmetic):
        return [ref for item in expression.operands for ref in _refs(item)]
    if isinstance(expression, Kept):
        return [ref for _, item in expression.members for ref in _refs(item)]
    return []


def _dates(expression: Expression) -> list[DateToString]:
    if isinstance(expression, DateToString):
        return [expression]
    if isinstance(expression, ObjectOf):
        return [date for _, item in expression.fields for date in _dates(item)]
    if isinstance(expression, Arithmetic):
        return [date for item in expression.operands for date in _dates(item)]
    if isinstance(expression, Kept):
        return [date for _, item in expression.members for date in _dates(item)]
    return []

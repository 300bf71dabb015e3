"""The aggregation language: a pipeline of stages in the form MongoDB and CloudBase users know.

    [{"$match": {"status": "paid"}},
     {"$group": {"_id": {"$dateToString": {"format": "%Y-%m-%d", "date": "$_created",
                                           "timezone": "Asia/Shanghai"}},
                 "total": {"$sum": "$amount"}, "orders": {"$sum": 1}}},
     {"$sort": {"_id": 1}}]

Parsed into stages with bounds on their number and size; values are never put into SQL text
(the store binds them) and every path is checked as filters check theirs. What each stage means
is the store's compiler's (`minibase.store.pipeline`) and this module's reference evaluator's,
kept the same by the tests.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal, TypeAlias
from zoneinfo import available_timezones

from minibase.rules.conditions import FieldPath
from minibase.rules.filters import (
    SEGMENT,
    Filter,
    FilterError,
    parse_filter,
    parse_path,
    scalar,
)

STAGES = (
    "$match",
    "$group",
    "$sort",
    "$skip",
    "$limit",
    "$project",
    "$unwind",
    "$count",
    "$lookup",
)
MAX_STAGES = 20
MAX_LOOKUPS = 4
MAX_FIELDS = 50  # outputs of a $group, fields of a $project or of an object expression
MAX_SORT_KEYS = 8
MAX_EXPRESSION_DEPTH = 8
MAX_SKIP = 1_000_000
MAX_FORMAT = 64
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")  # a field a stage makes (fullmatch)
FIXED_OFFSET = re.compile(r"[+-](?:[01][0-9]|2[0-3]):[0-5][0-9]")
DATE_FORMAT = re.compile(r"(?:%[YmdHMSL%]|[^%\x00-\x1f])*")
DEFAULT_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S.%LZ"  # MongoDB's
DATE_FIELDS = frozenset({"_created", "_updated"})  # of a record, and `datetime` fields


class PipelineError(ValueError):
    def __init__(self, message: str, at: str) -> None:
        super().__init__(f"{message} (at {at})")
        self.message = message
        self.at = at


# -- expressions ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldRef:
    """`"$a.b"`: the value at a path of the document (missing if it has none)."""

    path: FieldPath


@dataclass(frozen=True, slots=True)
class Constant:
    """A JSON value as it is (`5`, `"text"`, `{"$literal": "$not a path"}`)."""

    value: Any


@dataclass(frozen=True, slots=True)
class DateToString:
    """A record's time (`_created`, `_updated`, a `datetime` field) as text in a time zone:
    `%Y %m %d %H %M %S %L` (milliseconds) and `%%`, anything else as it is."""

    date: FieldRef
    format: str
    timezone: str  # "UTC", an IANA name ("Asia/Shanghai"), or a fixed offset ("+08:00")
    at: str = field(default="", compare=False)  # where the pipeline holds it


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """`$add $subtract $multiply $divide` over numbers; null if any operand is not one (or a
    division by zero)."""

    op: Literal["add", "subtract", "multiply", "divide"]
    operands: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class ObjectOf:
    """`{"day": ..., "status": "$status"}`: an object of expressions (a compound group key)."""

    fields: tuple[tuple[str, Expression], ...]


@dataclass(frozen=True, slots=True)
class Kept:
    """A $project's object at `path`, with only the members named (`{"author": {"name": 1}}`,
    or `"author.name": 1`): each kept from the document (FieldRef), made by an expression, or
    itself a Kept. Made always when a member is computed; otherwise only where the document
    holds an object at `path` (missing elsewhere)."""

    path: FieldPath
    members: tuple[tuple[str, Expression], ...]
    always: bool


Expression: TypeAlias = FieldRef | Constant | DateToString | Arithmetic | ObjectOf | Kept


# -- stages ------------------------------------------------------------------------------

AccumulatorOp: TypeAlias = Literal["sum", "avg", "min", "max", "count", "push", "addToSet"]


@dataclass(frozen=True, slots=True)
class Accumulator:
    op: AccumulatorOp
    of: Expression  # Constant(None) for $count


@dataclass(frozen=True, slots=True)
class Match:
    filter: Filter
    on_records: bool  # before any stage reshaped the documents: the collection's fields


@dataclass(frozen=True, slots=True)
class Group:
    key: Expression
    outputs: tuple[tuple[str, Accumulator], ...]


@dataclass(frozen=True, slots=True)
class Sort:
    keys: tuple[tuple[FieldPath, bool], ...]  # (path, descending)


@dataclass(frozen=True, slots=True)
class Skip:
    count: int


@dataclass(frozen=True, slots=True)
class Limit:
    count: int


@dataclass(frozen=True, slots=True)
class Project:
    """Either the fields kept (each a path to keep, or a name and an expression to compute)
    or the paths removed; `_id` is kept unless removed by name."""

    kept: tuple[tuple[str, Expression], ...] | None  # None: an exclusion
    removed: tuple[FieldPath, ...]


@dataclass(frozen=True, slots=True)
class Unwind:
    path: FieldPath
    keep_empty: bool  # preserveNullAndEmptyArrays
    index_as: str | None  # includeArrayIndex


@dataclass(frozen=True, slots=True)
class Count:
    name: str


@dataclass(frozen=True, slots=True)
class Lookup:
    source: str  # the collection, by name
    local: FieldPath
    foreign: FieldPath
    into: str


Stage: TypeAlias = Match | Group | Sort | Skip | Limit | Project | Unwind | Count | Lookup


@dataclass(frozen=True, slots=True)
class Pipeline:
    stages: tuple[Stage, ...]

    @property
    def lookups(self) -> tuple[Lookup, ...]:
        return tuple(stage for stage in self.stages if isinstance(stage, Lookup))


# -- parsing -----------------------------------------------------------------------------


def parse_pipeline(value: Any) -> Pipeline:
    """Parse a decoded JSON pipeline; raises PipelineError naming the stage and the place."""
    if not isinstance(value, list) or not value:
        raise PipelineError("a pipeline is a non-empty list of stages", "pipeline")
    if len(value) > MAX_STAGES:
        raise PipelineError(f"a pipeline has at most {MAX_STAGES} stages", "pipeline")
    stages: list[Stage] = []
    on_records = True
    for i, raw in enumerate(value):
        at = f"pipeline.{i}"
        if not isinstance(raw, Mapping) or len(raw) != 1:
            raise PipelineError('a stage is an object with one key, e.g. {"$match": {...}}', at)
        ((name, spec),) = raw.items()
        at = f"{at}.{name}"
        stage = _stage(str(name), spec, at, on_records)
        if (
            isinstance(stage, Match)
            and stage.filter.searches
            and len(stages) > sum(1 for earlier in stages if isinstance(earlier, Match))
        ):
            raise PipelineError("$search goes in the $match stages that begin the pipeline", at)
        if not isinstance(stage, Match | Sort | Skip | Limit):
            on_records = False
        stages.append(stage)
    if sum(1 for stage in stages if isinstance(stage, Lookup)) > MAX_LOOKUPS:
        raise PipelineError(f"a pipeline has at most {MAX_LOOKUPS} $lookup stages", "pipeline")
    return Pipeline(tuple(stages))


def _stage(name: str, spec: Any, at: str, on_records: bool) -> Stage:
    if name == "$match":
        try:
            return Match(parse_filter(_object(spec, at), documents=not on_records), on_records)
        except FilterError as exc:
            raise PipelineError(exc.message, f"{at}.{exc.at}" if exc.at else at) from None
    if name == "$group":
        return _group(_object(spec, at), at, on_records)
    if name == "$sort":
        return _sort(_object(spec, at), at, on_records)
    if name == "$skip":
        return Skip(_count(spec, at, 0, MAX_SKIP))
    if name == "$limit":
        return Limit(_count(spec, at, 1, MAX_SKIP))
    if name == "$project":
        return _project(_object(spec, at), at, on_records)
    if name == "$unwind":
        return _unwind(spec, at, on_records)
    if name == "$count":
        return Count(_name(spec, at))
    if name == "$lookup":
        return _lookup(_object(spec, at), at, on_records)
    known = " ".join(STAGES)
    hint = f": did you mean ${name}?" if f"${name}" in STAGES else f"; stages: {known}"
    raise PipelineError(f"unknown stage {name!r}{hint}", at)


def _object(spec: Any, at: str) -> Mapping[str, Any]:
    if not isinstance(spec, Mapping):
        raise PipelineError("expected a JSON object", at)
    return spec


def _count(spec: Any, at: str, least: int, most: int) -> int:
    if not isinstance(spec, int) or isinstance(spec, bool) or not least <= spec <= most:
        raise PipelineError(f"expected a whole number from {least} to {most:,}", at)
    return spec


def _name(spec: Any, at: str) -> str:
    if not isinstance(spec, str) or not NAME.fullmatch(spec):
        raise PipelineError("a field name: letters, digits and _, not starting with a digit", at)
    return spec


def _path(text: Any, at: str, on_records: bool) -> FieldPath:
    if not isinstance(text, str):
        raise PipelineError("expected a field path", at)
    try:
        return parse_path(text, at, documents=not on_records)
    except FilterError as exc:
        raise PipelineError(exc.message, at) from None


def _ref(text: Any, at: str, on_records: bool) -> FieldRef:
    """`"$a.b"` as a reference to the path a.b."""
    if not isinstance(text, str) or not text.startswith("$") or text.startswith("$$"):
        raise PipelineError('expected a field reference such as "$score"', at)
    return FieldRef(_path(text[1:], at, on_records))


def expression(value: Any, at: str, on_records: bool, depth: int = 0) -> Expression:
    if depth > MAX_EXPRESSION_DEPTH:
        raise PipelineError(f"expressions nest at most {MAX_EXPRESSION_DEPTH} levels", at)
    if isinstance(value, str):
        if value.startswith("$"):
            return _ref(value, at, on_records)
        return Constant(_scalar(value, at))
    if value is None or isinstance(value, bool | int | float):
        return Constant(_scalar(value, at))
    if isinstance(value, list):
        raise PipelineError('a list is a value here: write {"$literal": [...]}', at)
    spec = _object(value, at)
    operators = [key for key in spec if str(key).startswith("$")]
    if not operators:
        if len(spec) > MAX_FIELDS:
            raise PipelineError(f"an object has at most {MAX_FIELDS} fields here", at)
        return ObjectOf(
            tuple(
                (_name(key, f"{at}.{key}"), expression(item, f"{at}.{key}", on_records, depth + 1))
                for key, item in spec.items()
            )
        )
    if len(spec) != 1:
        raise PipelineError("an operator stands alone in its object", at)
    ((op, operand),) = spec.items()
    where = f"{at}.{op}"
    if op == "$literal":
        return Constant(_json_value(operand, where))
    if op == "$dateToString":
        return _date_to_string(_object(operand, where), where, on_records)
    if op in ("$add", "$subtract", "$multiply", "$divide"):
        if not isinstance(operand, list) or not operand:
            raise PipelineError(f"{op} takes a list of expressions", where)
        two = op in ("$subtract", "$divide")
        if (two and len(operand) != 2) or len(operand) > MAX_FIELDS:
            raise PipelineError(f"{op} takes {'two' if two else 'a list of'} expressions", where)
        operands = tuple(
            expression(item, f"{where}.{i}", on_records, depth + 1)
            for i, item in enumerate(operand)
        )
        return Arithmetic(op[1:], operands)  # type: ignore[arg-type]
    raise PipelineError(
        f"unknown expression operator {op!r}: $literal, $dateToString, $add, $subtract,"
        " $multiply, $divide",
        where,
    )


def _scalar(value: Any, at: str) -> Any:
    try:
        return scalar(value, at)
    except FilterError as exc:
        raise PipelineError(exc.message, at) from None


def _json_value(value: Any, at: str, depth: int = 0) -> Any:
    """A JSON value of bounded size and depth, held to the bounds of every value."""
    if depth > MAX_EXPRESSION_DEPTH:
        raise PipelineError(f"a value nests at most {MAX_EXPRESSION_DEPTH} levels here", at)
    if isinstance(value, list):
        if len(value) > MAX_FIELDS:
            raise PipelineError(f"a list has at most {MAX_FIELDS} values here", at)
        return [_json_value(item, f"{at}.{i}", depth + 1) for i, item in enumerate(value)]
    if isinstance(value, Mapping):
        if len(value) > MAX_FIELDS:
            raise PipelineError(f"an object has at most {MAX_FIELDS} fields here", at)
        return {
            _scalar(key, at): _json_value(item, f"{at}.{key}", depth + 1)
            for key, item in value.items()
        }
    return _scalar(value, at)


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _date_to_string(spec: Mapping[str, Any], at: str, on_records: bool) -> DateToString:
    unknown = set(spec) - {"format", "date", "timezone"}
    if unknown:
        raise PipelineError(f"$dateToString takes format, date and timezone, not {unknown}", at)
    date = _ref(spec.get("date"), f"{at}.date", on_records)
    if not on_records:
        raise PipelineError(
            "$dateToString reads a record's time: use it before stages that reshape documents"
            " ($group, $project, $unwind, $count, $lookup)",
            at,
        )
    fmt = spec.get("format", DEFAULT_DATE_FORMAT)
    if not isinstance(fmt, str) or len(fmt) > MAX_FORMAT or not DATE_FORMAT.fullmatch(fmt):
        raise PipelineError(
            f"format: at most {MAX_FORMAT} characters, with %Y %m %d %H %M %S %L and %%", at
        )
    zone = spec.get("timezone", "UTC")
    if not isinstance(zone, str) or not (FIXED_OFFSET.fullmatch(zone) or zone in _zones()):
        raise PipelineError(
            'timezone: an IANA name such as "Asia/Shanghai", or an offset such as "+08:00"', at
        )
    return DateToString(date, fmt, zone, at)


def _group(spec: Mapping[str, Any], at: str, on_records: bool) -> Group:
    if "_id" not in spec:
        raise PipelineError("$group needs an _id: the key to group by (null for all)", at)
    if len(spec) > MAX_FIELDS + 1:
        raise PipelineError(f"$group makes at most {MAX_FIELDS} fields", at)
    key = expression(spec["_id"], f"{at}._id", on_records)
    outputs: list[tuple[str, Accumulator]] = []
    for name, item in spec.items():
        if name == "_id":
            continue
        where = f"{at}.{name}"
        _name(name, where)
        acc = _object(item, where)
        if len(acc) != 1:
            raise PipelineError('an output is one accumulator, e.g. {"$sum": "$amount"}', where)
        ((op, operand),) = acc.items()
        where = f"{where}.{op}"
        if op == "$count":
            if operand != {}:
                raise PipelineError("$count takes {}", where)
            outputs.append((name, Accumulator("count", Constant(None))))
        elif op in ("$sum", "$avg", "$min", "$max", "$push", "$addToSet"):
            of = expression(operand, where, on_records)
            outputs.append((name, Accumulator(op[1:], of)))  # type: ignore[arg-type]
        else:
            raise PipelineError(
                f"unknown accumulator {op!r}: $sum $avg $min $max $count $push $addToSet", where
            )
    return Group(key, tuple(outputs))


def _sort(spec: Mapping[str, Any], at: str, on_records: bool) -> Sort:
    if not spec or len(spec) > MAX_SORT_KEYS:
        raise PipelineError(f"$sort takes 1 to {MAX_SORT_KEYS} fields", at)
    keys: list[tuple[FieldPath, bool]] = []
    for name, direction in spec.items():
        where = f"{at}.{name}"
        if direction not in (1, -1) or isinstance(direction, bool):
            raise PipelineError("sort 1 (ascending) or -1 (descending)", where)
        keys.append((_path(name, where, on_records), direction == -1))
    return Sort(tuple(keys))


def _project(spec: Mapping[str, Any], at: str, on_records: bool) -> Project:
    if not spec or len(spec) > MAX_FIELDS:
        raise PipelineError(f"$project takes 1 to {MAX_FIELDS} fields", at)
    # dotted names and nested objects of the same fields are one tree: {"a.b": 1, "a": {"c": 1}}
    tree: dict[str, Any] = {}
    removed: list[FieldPath] = []
    for name, item in spec.items():
        where = f"{at}.{name}"
        path = _path(name, where, on_records)
        for leaf, value in _leaves(path, item, where):
            if isinstance(value, bool | int | float) and not value:  # false or 0: removed
                removed.append(leaf)
                continue
            node = tree
            for segment in leaf[:-1]:
                node = node.setdefault(segment, {})
                if not isinstance(node, dict):
                    raise PipelineError(f"{'.'.join(leaf)} is kept whole and in part", where)
            if leaf[-1] in node:
                raise PipelineError(f"{'.'.join(leaf)} is named twice", where)
            if isinstance(value, bool | int | float):  # true or any other number: kept
                node[leaf[-1]] = FieldRef(leaf)
            else:
                node[leaf[-1]] = expression(value, where, on_records)
    if tree and any(path != ("_id",) for path in removed):
        raise PipelineError("$project either keeps fields or removes them (and _id)", at)
    if tree:
        return Project(_kept((), tree).members, tuple(removed))
    return Project(None, tuple(removed))


def _leaves(path: FieldPath, item: Any, at: str) -> list[tuple[FieldPath, Any]]:
    """A $project entry as (path, value) leaves: a nested object without operators is more
    fields under `path`; anything else is one leaf."""
    if isinstance(item, Mapping) and item and not any(str(key).startswith("$") for key in item):
        leaves = []
        for key, value in item.items():
            leaves += _leaves((*path, _name(key, f"{at}.{key}")), value, f"{at}.{key}")
        return leaves
    return [(path, item)]


def _kept(path: FieldPath, tree: Mapping[str, Any]) -> Kept:
    members: list[tuple[str, Expression]] = []
    for name, node in tree.items():
        members.append((name, _kept((*path, name), node) if isinstance(node, dict) else node))
    always = any(
        (isinstance(member, Kept) and member.always)
        or not isinstance(member, FieldRef | Kept)
        or (isinstance(member, FieldRef) and member.path != (*path, name))
        for name, member in members
    )
    return Kept(path, tuple(members), always)


def _unwind(spec: Any, at: str, on_records: bool) -> Unwind:
    if isinstance(spec, str):
        return Unwind(_ref(spec, at, on_records).path, False, None)
    options = _object(spec, at)
    unknown = set(options) - {"path", "preserveNullAndEmptyArrays", "includeArrayIndex"}
    if unknown:
        raise PipelineError(
            f"$unwind takes path, preserveNullAndEmptyArrays and includeArrayIndex, not {unknown}",
            at,
        )
    keep = options.get("preserveNullAndEmptyArrays", False)
    if not isinstance(keep, bool):
        raise PipelineError("preserveNullAndEmptyArrays is true or false", at)
    index_as = options.get("includeArrayIndex")
    path = _ref(options.get("path"), f"{at}.path", on_records).path
    return Unwind(path, keep, None if index_as is None else _name(index_as, at))


def _lookup(spec: Mapping[str, Any], at: str, on_records: bool) -> Lookup:
    unknown = set(spec) - {"from", "localField", "foreignField", "as"}
    missing = {"from", "localField", "foreignField", "as"} - set(spec)
    if unknown or missing:
        raise PipelineError("$lookup takes from, localField, foreignField and as", at)
    source = spec["from"]
    if not isinstance(source, str) or not SEGMENT.fullmatch(source) or source[0].isdigit():
        raise PipelineError("from names a collection", f"{at}.from")
    local = _path(spec["localField"], f"{at}.localField", on_records)
    foreign = _path(spec["foreignField"], f"{at}.foreignField", True)
    return Lookup(source, local, foreign, _name(spec["as"], f"{at}.as"))

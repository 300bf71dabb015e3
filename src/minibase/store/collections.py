"""Collection definitions: name, field schema, indexes and access rules, parsed and checked once.

The definition is what admins write (JSON or YAML) and what `collections export` gives back;
`Collection` is its compiled form, which the records feature uses on every request.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from minibase.rules.conditions import Condition
from minibase.rules.expressions import Rule, RuleSyntaxError, parse_rule
from minibase.rules.filters import SEGMENT
from minibase.rules.presets import ACTIONS, ACTIONS_WITH_BODY, PRESETS, resolve_rules
from minibase.store.dialect import SYSTEM_COLUMNS, Dialect
from minibase.store.query import CachedCompiler
from minibase.store.schema import DefinitionError, Schema

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,62}$")
_DEFINITION_KEYS = frozenset({"name", "fields", "additional", "indexes", "rules"})
MAX_INDEXES = 32
MAX_INDEX_FIELDS = 8


class InvalidDefinition(ValueError):
    """A definition problem: `.problems` [{"field": ..., "message": ...}], or a rule error."""

    def __init__(self, problems: list[dict[str, Any]], *, rule: dict[str, Any] | None = None):
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))
        self.problems = problems
        self.rule = rule


@dataclass(frozen=True, slots=True)
class IndexSpec:
    keys: tuple[tuple[tuple[str, ...], bool], ...]  # (path, descending)
    unique: bool
    search: bool = False  # a text search index on string fields (`$search` in filters)
    geo: bool = False  # a spatial index on a geopoint field (`$near`, `$geoWithin`)

    @property
    def fingerprint(self) -> str:
        text = ",".join(("-" if desc else "") + ".".join(path) for path, desc in self.keys)
        kind = "|search" if self.search else "|geo" if self.geo else ""
        return hashlib.sha256(f"{text}|{self.unique}{kind}".encode()).hexdigest()[:10]

    @property
    def paths(self) -> tuple[tuple[str, ...], ...]:
        return tuple(path for path, _ in self.keys)

    def to_definition(self) -> dict[str, Any]:
        fields = [("-" if desc else "") + ".".join(path) for path, desc in self.keys]
        if self.search:
            return {"fields": fields, "search": True}
        if self.geo:
            return {"fields": fields, "geo": True}
        return {"fields": fields, "unique": self.unique}


@dataclass(frozen=True, slots=True)
class Collection:
    id: str
    name: str
    schema: Schema
    indexes: tuple[IndexSpec, ...]
    rules: Mapping[str, str | None]
    compiled_rules: Mapping[str, Rule | None] = field(compare=False)
    created: str = ""
    updated: str = ""
    compilers: dict[str, CachedCompiler] = field(default_factory=dict, compare=False, repr=False)
    # each rule bound for the callers seen lately (data/access.py): by (action, caller)
    bound_rules: dict[tuple[str, Hashable], Condition] = field(
        default_factory=dict, compare=False, repr=False
    )
    # a get by id's SQL text, by its read rule's SQL ("" without one): the same text object
    # each time, whose hash SQLite's statement cache and the read costs keep
    get_statements: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    # a list's SQL by its filter, sort and bound rule (data/records.py)
    list_statements: dict[Hashable, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def table(self) -> str:
        return f'"c_{self.id}"'

    @property
    def search_index(self) -> IndexSpec | None:
        """The collection's text search index (at most one), if it declares one."""
        return next((index for index in self.indexes if index.search), None)

    def geo_index(self, path: tuple[str, ...]) -> IndexSpec | None:
        """The spatial index on the geopoint field at `path`, if one is declared."""
        return next((i for i in self.indexes if i.geo and i.paths == (path,)), None)

    @property
    def geo_table(self) -> str:
        """SQLite's R*Tree of the geo index: each point's box, by the row's rowid."""
        return f'"g_{self.id}"'

    @property
    def search_table(self) -> str:
        """SQLite's full-text table of the search index: the fields' text, by the row's rowid."""
        return f'"t_{self.id}"'

    def index_name(self, index: IndexSpec) -> str:
        return f'"i_{self.id}_{index.fingerprint}"'

    def compiler(self, dialect: Dialect) -> CachedCompiler:
        """The condition compiler for this collection's fields (one per engine, cached)."""
        found = self.compilers.get(dialect.name)
        if found is None:
            found = self.compilers[dialect.name] = CachedCompiler(dialect, self.kind_of)
        return found

    def kind_of(self, path: tuple[str, ...]) -> str | None:
        if len(path) == 1 and path[0] in SYSTEM_COLUMNS:
            return SYSTEM_COLUMNS[path[0]]
        return self.schema.kind_of(path)

    def preset(self) -> str | None:
        for name, rules in PRESETS.items():
            if all(rules.get(action) == self.rules.get(action) for action in ACTIONS):
                return name
        return None

    def to_definition(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fields": self.schema.to_definition(),
            "additional": self.schema.additional,
            "indexes": [index.to_definition() for index in self.indexes],
            "rules": {action: self.rules.get(action) for action in ACTIONS},
        }

    def to_json(self) -> dict[str, Any]:
        body = self.to_definition()
        body.update(id=self.id, preset=self.preset(), created=self.created, updated=self.updated)
        return body


def parse_definition(
    definition: Any, *, collection_id: str, created: str = "", updated: str = ""
) -> Collection:
    """Check a definition and compile it; raises InvalidDefinition listing what is wrong."""
    if not isinstance(definition, Mapping):
        raise InvalidDefinition([{"field": "", "message": "a definition is a JSON object"}])
    problems: list[dict[str, Any]] = []
    unknown = sorted(set(definition) - _DEFINITION_KEYS)
    if unknown:
        problems.append({"field": "", "message": f"unknown keys {unknown}"})
    name = definition.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name):
        problems.append({"field": "name", "message": f"must match {NAME.pattern}"})
    additional = definition.get("additional", True)
    if not isinstance(additional, bool):
        problems.append({"field": "additional", "message": "must be true or false"})
        additional = True
    schema: Schema | None = None
    try:
        schema = Schema.parse(definition.get("fields"), additional=additional)
    except DefinitionError as exc:
        problems.extend({**p, "field": _prefixed("fields", p["field"])} for p in exc.problems)
    indexes = _parse_indexes(_unless_null(definition, "indexes", []), problems)
    try:
        rules = resolve_rules(_unless_null(definition, "rules", {}))
    except ValueError as exc:
        problems.append({"field": "rules", "message": str(exc)})
        rules = {action: None for action in ACTIONS}
    if schema is not None:
        problems += _search_problems(schema, indexes)
    if problems or schema is None:
        raise InvalidDefinition(problems)
    compiled = _compile_rules(rules)
    return Collection(
        id=collection_id,
        name=str(name),
        schema=schema,
        indexes=indexes,
        rules=rules,
        compiled_rules=compiled,
        created=created,
        updated=updated,
    )


def _search_problems(schema: Schema, indexes: tuple[IndexSpec, ...]) -> list[dict[str, Any]]:
    """A search index reads declared string fields (in objects, not in arrays); a geo index,
    a declared geopoint field."""
    problems = []
    for position, index in enumerate(indexes):
        for path in index.paths if index.geo else ():
            if schema.type_at(path) != "geopoint":
                problems.append(
                    {
                        "field": f"indexes.{position}",
                        "message": f"{'.'.join(path)} is not a declared geopoint field: a geo"
                        " index reads a geopoint field",
                    }
                )
        for path in index.paths if index.search else ():
            if schema.type_at(path) != "string" or schema.kind_of(path) != "string":
                name = ".".join(path)
                problems.append(
                    {
                        "field": f"indexes.{position}",
                        "message": f"{name} is not a declared string field: a search index"
                        " reads string fields",
                    }
                )
    return problems


def _unless_null(definition: Mapping[str, Any], key: str, empty: Any) -> Any:
    """A key's value; null or missing is `empty` (false, 0 or "" are refused, not emptied)."""
    value = definition.get(key)
    return empty if value is None else value


def _prefixed(prefix: str, rest: str) -> str:
    return f"{prefix}.{rest}" if rest else prefix


def _parse_indexes(raw: Any, problems: list[dict[str, Any]]) -> tuple[IndexSpec, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_INDEXES:
        problems.append({"field": "indexes", "message": f"a list of at most {MAX_INDEXES}"})
        return ()
    found: dict[str, IndexSpec] = {}
    for position, item in enumerate(raw):
        where = f"indexes.{position}"
        if isinstance(item, str | list):
            item = {"fields": [item] if isinstance(item, str) else item}
        if not isinstance(item, Mapping) or set(item) - {"fields", "unique", "search", "geo"}:
            problems.append(
                {
                    "field": where,
                    "message": "an index is {fields: [...], unique}, {fields, search} or"
                    " {fields, geo}",
                }
            )
            continue
        fields, unique = item.get("fields"), item.get("unique", False)
        search, geo = item.get("search"), item.get("geo")
        if search is not None and (not isinstance(search, bool) or "unique" in item):
            problems.append(
                {
                    "field": where,
                    "message": "search is true or false, and a search index is not unique",
                }
            )
            continue
        if geo is not None and (not isinstance(geo, bool) or "unique" in item or "search" in item):
            problems.append(
                {"field": where, "message": "geo is true or false, on a geo index alone"}
            )
            continue
        if geo and (not isinstance(fields, list) or len(fields) != 1):
            problems.append({"field": where, "message": "a geo index has one geopoint field"})
            continue
        if not isinstance(fields, list) or not 0 < len(fields) <= MAX_INDEX_FIELDS:
            problems.append(
                {"field": where, "message": f"fields: a list of 1 to {MAX_INDEX_FIELDS} paths"}
            )
            continue
        if not isinstance(unique, bool):
            problems.append({"field": where, "message": "unique must be true or false"})
            continue
        keys = []
        for text in fields:
            key = _index_key(text)
            if key is None:
                problems.append({"field": where, "message": f"{text!r} is not a field path"})
                break
            keys.append(key)
        else:
            if (search or geo) and any(descending for _, descending in keys):
                kind = "search" if search else "geo"
                problems.append({"field": where, "message": f"a {kind} index has no order (-)"})
                continue
            index = IndexSpec(tuple(keys), bool(unique), bool(search), bool(geo))
            found.setdefault(index.fingerprint, index)
    if sum(1 for index in found.values() if index.search) > 1:
        problems.append(
            {"field": "indexes", "message": "one search index at most: list its fields"}
        )
    return tuple(found.values())


def _index_key(text: Any) -> tuple[tuple[str, ...], bool] | None:
    if not isinstance(text, str):
        return None
    descending = text.startswith("-")
    path = tuple(text.lstrip("-").split("."))
    if not all(SEGMENT.fullmatch(part) for part in path) or path[0].isdigit():
        return None
    if path[0].startswith("_") and (len(path) > 1 or path[0] not in SYSTEM_COLUMNS):
        return None
    return path, descending


def _compile_rules(rules: Mapping[str, str | None]) -> dict[str, Rule | None]:
    compiled: dict[str, Rule | None] = {}
    for action in ACTIONS:
        text = rules.get(action)
        if text is None:
            compiled[action] = None
            continue
        try:
            compiled[action] = parse_rule(text, allow_body=action in ACTIONS_WITH_BODY)
        except RuleSyntaxError as exc:
            raise InvalidDefinition(
                [{"field": f"rules.{action}", "message": exc.message}],
                rule={"action": action, "position": exc.position, "message": exc.message},
            ) from None
    return compiled


def definition_json(collection: Collection) -> str:
    return orjson.dumps(collection.to_definition()).decode()

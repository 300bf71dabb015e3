"""Objects, arrays and geopoints of a collection schema, and the parser of field specs.

Values of undeclared keys (allowed by `additional: true`) are checked as plain JSON and kept
as given: shared with the input, not copied.
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Iterator, Mapping
from typing import Any

from minibase.store.schema_content import ContentRule
from minibase.store.schema_fields import (
    BooleanField,
    DatetimeField,
    EnumField,
    Field,
    IntegerField,
    NumberField,
    ReferenceField,
    Stray,
    StringField,
)
from minibase.store.schema_files import FileField
from minibase.store.schema_json import check_json, json_identity
from minibase.store.schema_problems import (
    FIELD_NAME,
    MAX_DEPTH,
    NUL_MESSAGE,
    FieldSpec,
    Path,
    Problem,
    TooManyProblems,
    is_plain_number,
    join,
    report,
)

COMMON_KEYS = frozenset({"type", "required", "default"})


class ObjectField(Field):
    """Declared fields by name; other keys are kept (`additional`) or reported as unknown."""

    type_name = "object"
    kind = "object"
    keys = frozenset({"fields", "additional"})
    depth = 1
    __slots__ = ("additional", "checks", "fields", "level", "root", "watched")

    def __init__(
        self, fields: dict[str, Field], *, additional: bool, level: int, root: bool = False
    ) -> None:
        super().__init__()
        self.fields = fields
        self.additional = additional
        self.level = level
        self.root = root
        self.checks = {name: field.check for name, field in fields.items()}
        # Only these need a look when a declared field is absent from a document.
        self.watched = tuple(
            (name, field) for name, field in fields.items() if field.required or field.has_default
        )

    @classmethod
    def from_spec(cls, spec: FieldSpec, level: int) -> Field:
        additional = spec.flag("additional", default=True)
        declared = spec.raw.get("fields")  # None too: YAML's `fields:` with nothing under it
        declared = {} if declared is None else declared
        fields = parse_fields(declared, spec.path, level + 1, spec.problems)
        return cls(fields, additional=additional, level=level)

    def check(
        self, value: Any, parent: str, key: str | int, problems: list[Problem], defaults: bool
    ) -> Any:
        if not isinstance(value, dict):
            report(problems, parent, key, "type", "expected an object")
            return value
        return self.check_members(value, join(parent, key), problems, defaults)

    def check_members(
        self, value: Mapping[Any, Any], at: str, problems: list[Problem], defaults: bool
    ) -> dict[str, Any]:
        checks = self.checks
        out: dict[str, Any] = {}
        seen = 0
        for key, item in value.items():
            check = checks.get(key)
            if check is None:
                self._check_extra(key, item, at, problems)
                out[key] = item
                continue
            seen += 1
            if item is not None:
                out[key] = check(item, at, key, problems, defaults)
                continue
            if self.fields[key].required:
                report(problems, at, key, "required", "is required (null is not allowed)")
            out[key] = None
        if seen < len(checks):
            for key, field in self.watched:
                if key in value:
                    continue
                if defaults and field.has_default:
                    out[key] = field.fresh_default()
                elif field.required:
                    report(problems, at, key, "required", "is required")
        return out

    def _check_extra(self, key: Any, item: Any, at: str, problems: list[Problem]) -> None:
        if not isinstance(key, str):
            report(problems, at, str(key), "type", "field names must be strings")
        elif self.root and key.startswith("_"):
            report(problems, at, key, "reserved", "names starting with _ are system fields")
        elif "\x00" in key:
            report(problems, at, key, "format", NUL_MESSAGE)
        elif not self.additional:
            report(problems, at, key, "unknown_field", "is not a declared field")
        else:
            check_json(item, self.level + 1, at, key, problems)

    def options(self) -> dict[str, Any]:
        return {"fields": self.field_definitions(), "additional": self.additional}

    def field_definitions(self) -> dict[str, Any]:
        return {name: field.definition() for name, field in self.fields.items()}

    def value_schema(self) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for name, field in self.fields.items():
            schema = field.json_schema()
            if field.required:
                required.append(name)
            else:
                schema = with_null(schema)
            properties[name] = schema
        out: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            out["required"] = required
        if not self.additional:
            out["additionalProperties"] = False
        return out

    def kind_at(self, path: Path, index: int) -> str | None:
        if index == len(path):
            return "object"
        field = self.fields.get(path[index])
        return field.kind_at(path, index + 1) if field is not None else None

    def field_at(self, path: Path, index: int) -> Field | None:
        if index == len(path):
            return self
        field = self.fields.get(path[index])
        return field.field_at(path, index + 1) if field is not None else None

    def stray(self, path: Path, index: int) -> Stray | None:
        if index == len(path):
            return None
        field = self.fields.get(path[index])
        if field is not None:
            return field.stray(path, index + 1)
        return None if self.additional else (index, tuple(self.fields))

    def references(self, path: Path) -> Iterator[tuple[Path, str]]:
        for name, field in self.fields.items():
            yield from field.references((*path, name))

    def content_checks(self, path: Path) -> Iterator[tuple[Path, ContentRule]]:
        for name, field in self.fields.items():
            yield from field.content_checks((*path, name))


class ArrayField(Field):
    """A list whose items all fit one declared field; items are never null."""

    type_name = "array"
    kind = "array"
    keys = frozenset({"items", "min", "max", "unique"})
    depth = 1
    __slots__ = ("items", "max_items", "min_items", "unique")

    def __init__(
        self, items: Field, min_items: int | None, max_items: int | None, *, unique: bool
    ) -> None:
        super().__init__()
        self.items = items
        self.min_items = min_items
        self.max_items = max_items
        self.unique = unique

    @classmethod
    def from_spec(cls, spec: FieldSpec, level: int) -> Field:
        low, high = spec.bounds("length")
        unique = spec.flag("unique")
        if "items" not in spec.raw:
            spec.problem("arrays need items, e.g. items: {type: string}")
            return cls(BooleanField(), low, high, unique=unique)
        path = f"{spec.path}.*"
        items = parse_field(spec.raw["items"], path, level + 1, spec.problems, item=True)
        return cls(items or BooleanField(), low, high, unique=unique)

    def check(
        self, value: Any, parent: str, key: str | int, problems: list[Problem], defaults: bool
    ) -> Any:
        if not isinstance(value, list):
            report(problems, parent, key, "type", "expected an array")
            return value
        at = join(parent, key)
        if self.min_items is not None and len(value) < self.min_items:
            report(problems, parent, key, "min", f"must have at least {self.min_items} items")
        if self.max_items is not None and len(value) > self.max_items:
            report(problems, parent, key, "max", f"must have at most {self.max_items} items")
        before = len(problems)
        check = self.items.check
        out = [check(item, at, index, problems, defaults) for index, item in enumerate(value)]
        if self.unique and len(problems) == before:
            seen: set[Hashable] = set()
            for index, item in enumerate(out):
                identity = json_identity(item)
                if identity in seen:
                    report(problems, at, index, "unique", "repeats an earlier item")
                seen.add(identity)
        return out

    def options(self) -> dict[str, Any]:
        out: dict[str, Any] = {"items": self.items.definition()}
        if self.min_items is not None:
            out["min"] = self.min_items
        if self.max_items is not None:
            out["max"] = self.max_items
        if self.unique:
            out["unique"] = True
        return out

    def value_schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "array", "items": self.items.json_schema()}
        if self.min_items is not None:
            out["minItems"] = self.min_items
        if self.max_items is not None:
            out["maxItems"] = self.max_items
        if self.unique:
            out["uniqueItems"] = True
        return out

    def kind_at(self, path: Path, index: int) -> str | None:
        if index == len(path):
            return "array"
        segment = path[index]
        if segment == "*" or segment.isdigit():
            return self.items.kind_at(path, index + 1)
        return None

    def field_at(self, path: Path, index: int) -> Field | None:
        if index == len(path):
            return self
        if path[index] == "*" or path[index].isdigit():
            return self.items.field_at(path, index + 1)
        return None

    def stray(self, path: Path, index: int) -> Stray | None:
        if index == len(path):
            return None
        if path[index] == "*" or path[index].isdigit():
            return self.items.stray(path, index + 1)
        return (index, ())

    def references(self, path: Path) -> Iterator[tuple[Path, str]]:
        return self.items.references((*path, "*"))

    def content_checks(self, path: Path) -> Iterator[tuple[Path, ContentRule]]:
        return self.items.content_checks((*path, "*"))


class GeopointField(Field):
    """A GeoJSON point: {"type": "Point", "coordinates": [longitude, latitude]}."""

    type_name = "geopoint"
    kind = "object"
    depth = 2  # the point object and its coordinates array
    __slots__ = ()

    def check(
        self, value: Any, parent: str, key: str | int, problems: list[Problem], defaults: bool
    ) -> Any:
        if not isinstance(value, dict):
            report(problems, parent, key, "type", 'expected {"type": "Point", "coordinates": [..]}')
            return value
        coordinates = value.get("coordinates")
        if (
            len(value) != 2
            or value.get("type") != "Point"
            or not isinstance(coordinates, list)
            or len(coordinates) != 2
            or not all(is_plain_number(c) for c in coordinates)
        ):
            message = 'expected {"type": "Point", "coordinates": [longitude, latitude]}'
            report(problems, parent, key, "format", message)
            return value
        longitude, latitude = coordinates
        if not -180 <= longitude <= 180:
            report(problems, parent, key, "format", "longitude must be between -180 and 180")
        if not -90 <= latitude <= 90:
            report(problems, parent, key, "format", "latitude must be between -90 and 90")
        return {"type": "Point", "coordinates": [longitude, latitude]}

    def value_schema(self) -> dict[str, Any]:
        longitude = {"type": "number", "minimum": -180, "maximum": 180}
        latitude = {"type": "number", "minimum": -90, "maximum": 90}
        coordinates = {
            "type": "array",
            "prefixItems": [longitude, latitude],
            "items": False,
            "minItems": 2,
            "maxItems": 2,
        }
        return {
            "type": "object",
            "properties": {"type": {"const": "Point"}, "coordinates": coordinates},
            "required": ["type", "coordinates"],
            "additionalProperties": False,
        }

    def kind_at(self, path: Path, index: int) -> str | None:
        rest = path[index:]
        if not rest:
            return "object"
        if rest == ("type",):
            return "string"
        if rest == ("coordinates",):
            return "array"
        if len(rest) == 2 and rest[0] == "coordinates" and rest[1] in ("0", "1", "*"):
            return "number"
        return None

    def stray(self, path: Path, index: int) -> Stray | None:
        rest = path[index:]
        if self.kind_at(path, index) is not None:
            return None
        if rest[0] not in ("type", "coordinates"):
            return (index, ("type", "coordinates"))
        if rest[0] == "coordinates" and rest[1] in ("0", "1", "*"):
            return (index + 2, ())  # a step into a longitude or latitude
        return (index + 1, ())


FIELD_TYPES: dict[str, type[Field]] = {
    cls.type_name: cls
    for cls in (
        StringField,
        IntegerField,
        NumberField,
        BooleanField,
        DatetimeField,
        EnumField,
        ObjectField,
        ArrayField,
        GeopointField,
        ReferenceField,
        FileField,
    )
}


def parse_fields(raw: Any, parent: str, level: int, problems: list[Problem]) -> dict[str, Field]:
    """The `fields` mapping of an object (or of the collection) whose values sit at `level`."""
    if not isinstance(raw, Mapping):
        problems.append({"field": parent, "message": "fields must be a mapping of name to spec"})
        return {}
    fields: dict[str, Field] = {}
    for name, spec in raw.items():
        path = join(parent, str(name))
        if not isinstance(name, str) or not FIELD_NAME.fullmatch(name):
            message = "a field name is a letter then up to 63 letters, digits or _"
            problems.append({"field": path, "message": message})
            continue
        field = parse_field(spec, path, level, problems)
        if field is not None:
            fields[name] = field
    return fields


def parse_field(
    raw: Any, path: str, level: int, problems: list[Problem], *, item: bool = False
) -> Field | None:
    """One field spec; None (with problems recorded) when it cannot be understood at all."""
    if not isinstance(raw, Mapping):
        problems.append({"field": path, "message": "a field spec is a mapping like {type: string}"})
        return None
    type_name = raw.get("type")
    cls = FIELD_TYPES.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        known = ", ".join(FIELD_TYPES)
        problems.append({"field": path, "message": f"unknown type {type_name!r} ({known})"})
        return None
    if level + cls.depth - 1 > MAX_DEPTH:
        problems.append({"field": path, "message": f"nested deeper than {MAX_DEPTH} levels"})
        return None
    spec = FieldSpec(raw, path, problems)
    before = len(problems)
    spec.reject_unknown(cls.keys | {"type"} if item else cls.keys | COMMON_KEYS)
    field = cls.from_spec(spec, level)
    if item:
        return field
    field.required = spec.flag("required")
    if "default" in raw and len(problems) == before:
        _set_default(field, raw["default"], spec)
    return field


def _set_default(field: Field, default: Any, spec: FieldSpec) -> None:
    """Check the default like a document value once, and keep it normalized."""
    if default is None:
        spec.problem("default must not be null (leave it out instead)")
        return
    found: list[Problem] = []
    value = None
    with contextlib.suppress(TooManyProblems):
        value = field.check(field.definition_default(default), "", "default", found, True)
    for problem in found:
        spec.problem(f"default is invalid: {problem['field']} {problem['message']}")
    if not found:
        field.default = value
        field.has_default = True


def with_null(schema: dict[str, Any]) -> dict[str, Any]:
    """The same JSON Schema, also accepting null (for fields that are not required)."""
    out = dict(schema)
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out

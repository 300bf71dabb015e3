"""Declared fields of a collection schema, each compiled once from its spec.

A field's `check` takes a present, non-null value and returns it normalized, appending problems
to a list instead of raising, so one validation reports every problem. Problem paths are joined
only when a problem is reported: the happy path builds no strings.
"""

from __future__ import annotations

import copy
import math
import re
import sys
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar

from minibase.client_json import INT64_MAX, INT64_MIN
from minibase.clock import isoformat, parse_iso
from minibase.store.schema_content import ContentRule, parse_content_rule
from minibase.store.schema_problems import (
    COLLECTION_NAME,
    MAX_PATTERN_LENGTH,
    NUL_MESSAGE,
    RECORD_ID,
    FieldSpec,
    Path,
    Problem,
    is_plain_number,
    report,
    report_int64,
)

Stray = tuple[int, tuple[str, ...]]  # see Field.stray


class Field:
    """A declared field: `check` normalizes a present, non-null value or reports problems."""

    type_name: ClassVar[str]
    kind: ClassVar[str]  # what the query compiler compares it as
    keys: ClassVar[frozenset[str]] = frozenset()  # spec keys besides type, required, default
    depth: ClassVar[int] = 0  # levels of objects and arrays a value of this type opens

    __slots__ = ("default", "has_default", "required")

    def __init__(self) -> None:
        self.required = False
        self.has_default = False
        self.default: Any = None

    @classmethod
    def from_spec(cls, spec: FieldSpec, level: int) -> Field:
        return cls()

    def check(
        self, value: Any, parent: str, key: str | int, problems: list[Problem], defaults: bool
    ) -> Any:
        raise NotImplementedError

    def fresh_default(self) -> Any:
        default = self.default
        return copy.deepcopy(default) if isinstance(default, dict | list) else default

    def definition_default(self, value: Any) -> Any:
        """A default as written in a definition, before it is checked (YAML gives datetimes)."""
        return value

    def options(self) -> dict[str, Any]:
        """The spec keys of this type, normalized."""
        return {}

    def definition(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type_name}
        if self.required:
            out["required"] = True
        out.update(self.options())
        if self.has_default:
            out["default"] = copy.deepcopy(self.default)
        return out

    def value_schema(self) -> dict[str, Any]:
        """JSON Schema of a non-null value."""
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:
        schema = self.value_schema()
        if self.has_default:
            schema["default"] = copy.deepcopy(self.default)
        return schema

    def kind_at(self, path: Path, index: int) -> str | None:
        return self.kind if index == len(path) else None

    def field_at(self, path: Path, index: int) -> Field | None:
        return self if index == len(path) else None

    def stray(self, path: Path, index: int) -> Stray | None:
        """Where `path` (from `index`) leaves what a value of this field can hold: the index of
        the first segment no stored value has, and the names that could stand there instead.
        None when the path may hold a value."""
        return None if index == len(path) else (index, ())

    def references(self, path: Path) -> Iterator[tuple[Path, str]]:
        return iter(())

    def content_checks(self, path: Path) -> Iterator[tuple[Path, ContentRule]]:
        return iter(())


class StringField(Field):
    type_name = "string"
    kind = "string"
    keys = frozenset({"min", "max", "pattern", "content_check"})
    __slots__ = ("content_rule", "max_length", "min_length", "pattern")

    def __init__(
        self,
        min_length: int | None,
        max_length: int | None,
        pattern: re.Pattern[str] | None,
        content_rule: ContentRule | None = None,
    ) -> None:
        super().__init__()
        self.min_length = min_length
        self.max_length = max_length
        self.pattern = pattern
        self.content_rule = content_rule

    @classmethod
    def from_spec(cls, spec: FieldSpec, level: int) -> Field:
        low, high = spec.bounds("length")
        return cls(low, high, _compile_pattern(spec), parse_content_rule(spec))

    def check(
        self, value: Any, parent: str, key: str | int, problems: list[Problem], defaults: bool
    ) -> Any:
        if not isinstance(value, str):
            report(problems, parent, key, "type", "expected a string")
            return value
        length = len(value)
        if self.min_length is not None and length < self.min_length:
            report(problems, parent, key, "min", f"must be at least {self.min_length} characters")
        if self.max_length is not None and length > self.max_length:
            report(problems, parent, key, "max", f"must be at most {self.max_length} characters")
        if self.pattern is not None and self.pattern.search(value) is None:
            report(problems, parent, key, "pattern", f"must match {self.pattern.pattern}")
        if "\x00" in value:
            report(problems, parent, key, "format", NUL_MESSAGE)
        return value

    def options(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put(out, "min", self.min_length)
        _put(out, "max", self.max_length)
        _put(out, "pattern", self.pattern.pattern if self.pattern else None)
        _put(out, "content_check", self.content_rule.definition() if self.content_rule else None)
        return out

    def content_checks(self, path: Path) -> Iterator[tuple[Path, ContentRule]]:
        if self.content_rule is not None:
            yield path, self.content_rule

    def value_schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "string"}
        _put(out, "minLength", self.min_length)
        _put(out, "maxLength", self.max_length)
        _put(out, "pattern", self.pattern.pattern if self.pattern else None)
        return out


def _compile_pattern(spec: FieldSpec) -> re.Pattern[str] | None:
    pattern = spec.raw.get("pattern")
    if pattern is None:
        return None
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN_LENGTH:
        spec.problem(f"pattern must be a string of at most {MAX_PATTERN_LENGTH} characters")
        return None
    try:
        return re.compile(pattern)
    except re.error as error:
        spec.problem(f"pattern is not a valid regular expression: {error}")
        return None


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        out[key] = value


class IntegerField(Field):
    type_name = "integer"
    kind = "number"
    keys = frozenset({"min", "max"})
    __slots__ = ("high", "low", "maximum", "minimum")

    def __init__(self, minimum: int | None, maximum: int | None) -> None:
        super().__init__()
        self.minimum = minimum
        self.maximum = maximum
        self.low = INT64_MIN if minimum is None else minimum
        self.high = INT64_MAX if maximum is None else maximum

    @classmethod
    def from_spec(cls, spec: FieldSpec, level: int) -> Field:
        return cls(*spec.bounds("integer"))

    def check(
        self, value: Any, parent: str, key: str | int, problems: list[Problem], defaults: bool
    ) -> Any:
        if type(value) is int and self.low <= value <= self.high:
            return value
        if not isinstance(value, int) or isinstance(value, bool):
            report(problems, parent, key, "type", "expected an integer")
        elif self.minimum is not None and value < self.minimum:
            report(problems, parent, key, "min", f"must be at least {self.minimum}")
        elif self.maximum is not None and value > self.maximum:
            report(problems, parent, key, "max", f"must be at most {self.maximum}")
        elif not INT64_MIN <= value <= INT64_MAX:
            report_int64(problems, parent, key, value)
        return value

    def options(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put(out, "min", self.minimum)
        _put(out, "max", self.maximum)
        return out

    def value_schema(self) -> dict[str, Any]:
        return {
            "type": "integer",
            "format": "int64",
            "minimum": INT64_MIN if self.minimum is None else self.minimum,
            "maximum": INT64_MAX if self.maximum is None else self.maximum,
        }


class NumberField(Field):
    type_name = "number"
    kind = "number"
    keys = frozenset({"min", "max"})
    __slots__ = ("high", "low", "maximum", "minimum")

    def __init__(self, minimum: float | None, maximum: float | None) -> None:
        super().__init__()
        self.minimum = minimum
        self.maximum = maximum
        # Finite bounds even when none are declared: infinities and NaN take the slow path.
        self.low = -sys.float_info.max if minimum is None else minimum
        self.high = sys.float_info.max if maximum is None else maximum

    @classmethod
    def from_spec(cls, spec: FieldSpec, level: int) -> Field:
        return cls(*spec.bounds("number"))

    def check(
        self, value: Any, parent: str, key: str | int, problems: list[Problem], defaults: bool
    ) -> Any:
        kind = type(value)
        plain = kind is float or (kind is int and INT64_MIN <= value <= INT64_MAX)
        if plain and self.low <= value <= self.high:
            return value
        if not isinstance(value, int | float) or isinstance(value, bool):
            report(problems, parent, key, "type", "expected a number")
        elif isinstance(value, float) and not math.isfinite(value):
            report(problems, parent, key, "format", "must be a finite number")
        elif self.minimum is not None and value < self.minimum:
            report(problems, parent, key, "min", f"must be at least {self.minimum}")
        elif self.maximum is not None and value > self.maximum:
            report(problems, parent, key, "max", f"must be at most {self.maximum}")
        elif isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
            report_int64(problems, parent, key, value)
        return value

    def options(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put(out, "min", self.minimum)
        _put(out, "max", self.maximum)
        return out

    def value_schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "number"}
        _put(out, "minimum", self.minimum)
        _put(out, "maximum", self.maximum)
        return out


class BooleanField(Field):
    type_name = "boolean"
    kind = "boolean"
    __slots__ = ()

    def check(
        self, value: Any, parent: str, key: str | int, problems: list[Problem], defaults: bool
    ) -> Any:
        if not isinstance(value, bool):
            report(problems, parent, key, "type", "expected true or false")
        return value

    def value_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


class DatetimeField(Field):
    """ISO-8601 with a timezone in, fixed-width UTC out: stored strings sort in time order."""

    type_name = "datetime"
    kind = "string"
    __slots__ = ()

    def check(
        self, value: Any, parent: str, key: str | int, problems: list[Problem], defaults: bool
    ) -> Any:
        if not isinstance(value, str):
            report(problems, parent, key, "type", "expected a date-time string")
            return value
        text = normalize_time(value)
        if text is None:
            example = "2026-01-01T08:00:00+08:00"
            report(problems, parent, key, "format", f"expected ISO-8601 with a timezone: {example}")
            return value
        return text

    def definition_default(self, value: Any) -> Any:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return isoformat(value)
        return value

    def value_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date-time"}


NORMALIZED_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z")


def normalize_time(text: str) -> str | None:
    """Fixed-width UTC text of an ISO-8601 time with a timezone; None if it is not one."""
    try:
        if NORMALIZED_TIME.fullmatch(text):  # the usual case: skip the slow formatting
            datetime.fromisoformat(text)  # still rejects February 30th
            return text
        return isoformat(parse_iso(text))
    except (ValueError, OverflowError):
        return None


class EnumField(Field):
    """One of a fixed list of strings, or of numbers (never mixed, so it has one kind)."""

    type_name = "enum"
    kind = "string"
    keys = frozenset({"values"})
    __slots__ = ("allowed", "numeric", "values")

    def __init__(self, values: list[str] | list[int | float]) -> None:
        super().__init__()
        self.values = values
        self.allowed = frozenset(values)
        self.numeric = bool(values) and not isinstance(values[0], str)

    @classmethod
    def from_spec(cls, spec: FieldSpec, level: int) -> Field:
        values = spec.raw.get("values")
        if not isinstance(values, list) or not values:
            spec.problem("values must be a non-empty list")
            return cls([])
        strings = all(isinstance(value, str) for value in values)
        numbers = all(is_plain_number(value) for value in values)
        if not strings and not numbers:
            spec.problem("values must be all strings or all numbers (in YAML, quote yes/no)")
            return cls([])
        if len(set(values)) != len(values):
            spec.problem("values must not repeat")
        return cls(values)

    def check(
        self, value: Any, parent: str, key: str | int, problems: list[Problem], defaults: bool
    ) -> Any:
        if self.numeric:
            if not isinstance(value, int | float) or isinstance(value, bool):
                report(problems, parent, key, "type", "expected a number")
                return value
        elif not isinstance(value, str):
            report(problems, parent, key, "type", "expected a string")
            return value
        if value not in self.allowed:
            shown = ", ".join(str(allowed) for allowed in self.values[:20])
            report(problems, parent, key, "enum", f"must be one of: {shown}")
        return value

    def options(self) -> dict[str, Any]:
        return {"values": list(self.values)}

    def value_schema(self) -> dict[str, Any]:
        return {"type": "number" if self.numeric else "string", "enum": list(self.values)}

    def kind_at(self, path: Path, index: int) -> str | None:
        if index != len(path):
            return None
        return "number" if self.numeric else "string"


class ReferenceField(Field):
    """The id of a record in another collection; the caller checks that it exists."""

    type_name = "reference"
    kind = "string"
    keys = frozenset({"collection"})
    __slots__ = ("collection",)

    def __init__(self, collection: str) -> None:
        super().__init__()
        self.collection = collection

    @classmethod
    def from_spec(cls, spec: FieldSpec, level: int) -> Field:
        collection = spec.text("collection")
        if collection is not None and not COLLECTION_NAME.fullmatch(collection):
            spec.problem(f"collection {collection!r} is not a valid collection name")
        return cls(collection or "")

    def check(
        self, value: Any, parent: str, key: str | int, problems: list[Problem], defaults: bool
    ) -> Any:
        if not isinstance(value, str):
            report(problems, parent, key, "type", "expected a record id string")
        elif RECORD_ID.fullmatch(value) is None:
            report(problems, parent, key, "format", "a record id is 1-64 letters, digits, _ or -")
        return value

    def options(self) -> dict[str, Any]:
        return {"collection": self.collection}

    def value_schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": f"^{RECORD_ID.pattern}$",
            "description": f"The id of a record in {self.collection}.",
        }

    def references(self, path: Path) -> Iterator[tuple[Path, str]]:
        yield path, self.collection

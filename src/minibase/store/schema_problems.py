"""Limits and problem lists of collection schemas: definition problems and document problems.

Both are collected rather than raised one at a time, so an error names every problem at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from minibase.client_json import INT64_MAX, INT64_MESSAGE, INT64_MIN

MAX_PROBLEMS = 50
MAX_DEPTH = 32  # levels of objects and arrays in a document; the document itself is level 1
MAX_PATTERN_LENGTH = 512
FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
RECORD_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
COLLECTION_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

Problem = dict[str, str]
Path = tuple[str, ...]


class DefinitionError(ValueError):
    """The schema definition is unusable; `problems` lists each as {"field", "message"}."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(_summary(problems))


class ValidationError(ValueError):
    """A document does not fit the schema; `problems` lists each as {"field", "code", "message"}."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(_summary(problems))


def _summary(problems: list[Problem]) -> str:
    shown = "; ".join(f"{p['field'] or '(document)'}: {p['message']}" for p in problems[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return f"{shown}{more}"


class TooManyProblems(Exception):
    """Stops a validation once MAX_PROBLEMS are collected (hostile input can have millions)."""


def join(parent: str, key: str | int) -> str:
    return f"{parent}.{key}" if parent else str(key)


def report(problems: list[Problem], parent: str, key: str | int, code: str, message: str) -> None:
    problems.append({"field": join(parent, key), "code": code, "message": message})
    if len(problems) >= MAX_PROBLEMS:
        raise TooManyProblems


def report_int64(problems: list[Problem], parent: str, key: str | int, value: int) -> None:
    code = "max" if value > INT64_MAX else "min"
    report(problems, parent, key, code, INT64_MESSAGE)


class FieldSpec:
    """One field's raw definition being read: getters record problems instead of raising."""

    __slots__ = ("path", "problems", "raw")

    def __init__(self, raw: Mapping[str, Any], path: str, problems: list[Problem]) -> None:
        self.raw = raw
        self.path = path
        self.problems = problems

    def problem(self, message: str) -> None:
        self.problems.append({"field": self.path, "message": message})

    def reject_unknown(self, allowed: frozenset[str]) -> None:
        for key in self.raw:
            if key not in allowed:
                expected = ", ".join(sorted(allowed))
                self.problem(f"unknown key {key!r} for type {self.raw['type']} ({expected})")

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.raw.get(key, default)
        if not isinstance(value, bool):
            self.problem(f"{key} must be true or false")
            return default
        return value

    def text(self, key: str) -> str | None:
        value = self.raw.get(key)
        if not isinstance(value, str):
            self.problem(f"{key} is required and must be a string")
            return None
        return value

    def bounds(self, kind: str) -> tuple[Any, Any]:
        """min and max as "length" (counts), "integer" or "number" values; None when absent."""
        low, high = self._bound("min", kind), self._bound("max", kind)
        if low is not None and high is not None and low > high:
            self.problem("min must not be greater than max")
        return low, high

    def _bound(self, key: str, kind: str) -> Any:
        value = self.raw.get(key)
        if value is None:
            return None
        if kind == "number":
            ok = is_plain_number(value)
        else:
            ok = is_integer(value) and INT64_MIN <= value <= INT64_MAX
            ok = ok and (kind == "integer" or value >= 0)
        if not ok:
            wanted = _WANTED_BOUNDS.get(kind, "a number")
            self.problem(f"{key} must be {wanted}")
            return None
        return value


_WANTED_BOUNDS = {"length": "a count (0 or more)", "integer": "an integer"}


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_plain_number(value: Any) -> bool:
    """A number every part of the stack agrees on: a finite float or a 64-bit integer."""
    if isinstance(value, float):
        return math.isfinite(value)
    return is_integer(value) and INT64_MIN <= value <= INT64_MAX


# PostgreSQL cannot store the NUL character, so no engine accepts it, in text or in names.
NUL_MESSAGE = "cannot hold the NUL character"

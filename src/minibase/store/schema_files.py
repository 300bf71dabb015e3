"""The `file` field type: a collection's uploaded files, one or many per record.

    "photo": {"type": "file", "types": ["image/*"], "max_size": 5242880, "thumbs": ["200x200"]}
    "scans": {"type": "file", "multiple": true, "max_files": 10, "types": ["application/pdf"]}
    "avatar": {"type": "file", "types": ["image/*"], "content_check": {"scene": "profile"}}

A record holds a file reference (a list of them when `multiple`): {"id", "name", "size",
"type", "etag", "created"}, made by the server when the file was uploaded. A write names a file
by its id (a string, or a reference whose other keys are ignored): the records feature replaces
it with the reference the server keeps (minibase.files.catalog), so a client cannot make one up.
File fields are top-level fields: the upload endpoints name them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from minibase.store.schema_content import ContentRule, parse_content_rule
from minibase.store.schema_fields import Field, Stray
from minibase.store.schema_problems import FieldSpec, Path, Problem, is_integer, report

FILE_ID = re.compile(r"[0-9A-Za-z]{26}")
REF_KINDS = {
    "id": "string",
    "name": "string",
    "size": "number",
    "type": "string",
    "etag": "string",
    "created": "string",
}
MAX_FILES = 100
MAX_THUMBS = 8
_THUMB = re.compile(r"[1-9][0-9]{0,3}x[1-9][0-9]{0,3}")
_TYPE = re.compile(r"(\*|[a-z0-9][a-z0-9.+-]*)/(\*|[a-z0-9][a-z0-9.+-]*)")


class FileField(Field):
    type_name = "file"
    keys = frozenset({"multiple", "max_files", "max_size", "types", "thumbs", "content_check"})
    __slots__ = ("content_rule", "max_files", "max_size", "multiple", "thumbs", "types")

    def __init__(
        self,
        *,
        multiple: bool = False,
        max_files: int = 1,
        max_size: int | None = None,
        types: tuple[str, ...] = ("*/*",),
        thumbs: tuple[str, ...] = (),
        content_rule: ContentRule | None = None,
    ) -> None:
        super().__init__()
        self.multiple = multiple
        self.max_files = max_files
        self.max_size = max_size
        self.types = types
        self.thumbs = thumbs
        self.content_rule = content_rule

    @property
    def kind(self) -> str:  # type: ignore[override]
        return "array" if self.multiple else "object"

    @classmethod
    def from_spec(cls, spec: FieldSpec, level: int) -> Field:
        if level != 2:
            spec.problem("file fields are top-level fields (not inside objects or arrays)")
        if "default" in spec.raw:
            spec.problem("a file field has no default")
        multiple = spec.flag("multiple")
        max_files = _count(spec, "max_files", MAX_FILES, MAX_FILES if multiple else 1)
        if not multiple and "max_files" in spec.raw:
            spec.problem("max_files goes with multiple: true")
        max_size = _count(spec, "max_size", 1 << 40, None)
        types = _listed(spec, "types", _TYPE, "MIME types like image/* or application/pdf", 32)
        thumbs = _listed(spec, "thumbs", _THUMB, "sizes like 200x200", MAX_THUMBS)
        rule = parse_content_rule(spec)
        return cls(
            multiple=multiple,
            max_files=max_files or 1,
            max_size=max_size,
            types=types or ("*/*",),
            thumbs=thumbs,
            content_rule=rule,
        )

    def check(
        self, value: Any, parent: str, key: str | int, problems: list[Problem], defaults: bool
    ) -> Any:
        if not self.multiple:
            return _reference(value, parent, key, problems)
        if not isinstance(value, list):
            report(problems, parent, key, "type", "expected a list of file ids")
            return value
        if len(value) > self.max_files:
            report(problems, parent, key, "max", f"at most {self.max_files} files")
            return value
        out = []
        where = f"{parent}.{key}" if parent else str(key)
        for index, item in enumerate(value):
            out.append(_reference(item, where, index, problems))
        ids = [item["id"] for item in out if isinstance(item, dict) and "id" in item]
        if len(set(ids)) != len(ids):
            report(problems, parent, key, "unique", "a file is listed twice")
        return out

    def options(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.multiple:
            out["multiple"] = True
            out["max_files"] = self.max_files
        if self.max_size is not None:
            out["max_size"] = self.max_size
        if self.types != ("*/*",):
            out["types"] = list(self.types)
        if self.thumbs:
            out["thumbs"] = list(self.thumbs)
        if self.content_rule is not None:
            out["content_check"] = self.content_rule.definition()
        return out

    def value_schema(self) -> dict[str, Any]:
        reference = {
            "type": "object",
            "description": "A file the server stored; write its id to keep or add it.",
            "properties": {
                name: {"type": "integer" if kind == "number" else "string"}
                for name, kind in REF_KINDS.items()
            },
            "required": ["id"],
        }
        if self.multiple:
            return {"type": "array", "items": reference, "maxItems": self.max_files}
        return reference

    def kind_at(self, path: Path, index: int) -> str | None:
        rest = path[index:]
        if self.multiple:
            if not rest:
                return "array"
            if not (rest[0] == "*" or rest[0].isdigit()):
                return None
            rest = rest[1:]
        if not rest:
            return "object"
        return REF_KINDS.get(rest[0]) if len(rest) == 1 else None

    def stray(self, path: Path, index: int) -> Stray | None:
        rest = path[index:]
        if self.multiple and rest:
            if not rest[0].isdigit():
                return index, ()
            index, rest = index + 1, rest[1:]
        if not rest or (len(rest) == 1 and rest[0] in REF_KINDS):
            return None
        if rest[0] in REF_KINDS:
            return index + 1, ()
        return index, tuple(REF_KINDS)

    def file_ids(self, value: Any) -> list[str]:
        """The ids a checked value of this field names, in order."""
        if value is None:
            return []
        items = value if self.multiple else [value]
        return [item["id"] for item in items if isinstance(item, dict)]

    def content_checks(self, path: Path) -> Iterator[tuple[Path, ContentRule]]:
        return iter(())  # images are checked when uploaded (minibase.files.checks), not texts


def _reference(value: Any, parent: str, key: str | int, problems: list[Problem]) -> Any:
    if isinstance(value, str):
        file_id = value
    elif isinstance(value, dict) and isinstance(value.get("id"), str):
        file_id = value["id"]
    else:
        report(problems, parent, key, "type", "expected a file id (or a file with its id)")
        return value
    if FILE_ID.fullmatch(file_id) is None:
        report(problems, parent, key, "format", "a file id is the id an upload answered")
        return value
    if isinstance(value, dict):
        return {name: value[name] for name in REF_KINDS if name in value}
    return {"id": file_id}


def _count(spec: FieldSpec, key: str, most: int, default: int | None) -> int | None:
    value = spec.raw.get(key)
    if value is None:
        return default
    if not is_integer(value) or not 1 <= value <= most:
        spec.problem(f"{key} must be a whole number from 1 to {most}")
        return default
    return int(value)


def _listed(
    spec: FieldSpec, key: str, pattern: re.Pattern[str], what: str, most: int
) -> tuple[str, ...]:
    value = spec.raw.get(key)
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or not 0 < len(value) <= most
        or not all(isinstance(item, str) and pattern.fullmatch(item) for item in value)
    ):
        spec.problem(f"{key} must be a list of 1 to {most} {what}")
        return ()
    return tuple(dict.fromkeys(value))

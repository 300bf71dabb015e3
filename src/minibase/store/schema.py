"""A collection's field schema: parsed once, then validating every write.

    schema = Schema.parse({"title": {"type": "string", "required": True, "max": 200}})
    record = schema.validate({"title": "Hello"}, apply_defaults=True)

`validate` returns a new document with defaults applied and values normalized (datetimes become
fixed-width UTC text), or raises ValidationError listing every problem (at most 50) with a
dotted path such as `meta.size` or `tags.3`. The schema also tells the query compiler what kind
of value sits at a path (`kind_of`), lists reference fields for the caller to check against
the database (`references`), and describes itself as a definition and as JSON Schema.

Paths through arrays use "*" for "any item" (`("tags", "*")`); `kind_of` also accepts an index.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minibase.store.schema_containers import ObjectField, parse_fields
from minibase.store.schema_content import ContentRule
from minibase.store.schema_files import FileField
from minibase.store.schema_problems import (
    MAX_PROBLEMS,
    DefinitionError,
    Path,
    Problem,
    TooManyProblems,
    ValidationError,
)

__all__ = ["DefinitionError", "Schema", "ValidationError"]


class Schema:
    """The compiled `fields` (and `additional`) part of a collection definition."""

    __slots__ = ("_content_checks", "_files", "_references", "_root")

    def __init__(self, root: ObjectField) -> None:
        self._root = root
        self._content_checks = tuple(root.content_checks(()))
        self._references = tuple(root.references(()))
        self._files = {
            name: field for name, field in root.fields.items() if isinstance(field, FileField)
        }

    @classmethod
    def parse(cls, fields: Mapping[str, Any] | None, *, additional: bool = True) -> Schema:
        """Compile a definition; DefinitionError lists every problem found in it."""
        problems: list[Problem] = []
        if not isinstance(additional, bool):
            problems.append({"field": "", "message": "additional must be true or false"})
        members = parse_fields({} if fields is None else fields, "", 2, problems)
        if problems:
            raise DefinitionError(problems)
        return cls(ObjectField(members, additional=additional, level=1, root=True))

    def validate(self, doc: Mapping[str, Any], *, apply_defaults: bool) -> dict[str, Any]:
        """A new, normalized copy of the user's document; defaults fill absent fields if asked.

        Values of undeclared fields are checked (JSON only, bounded depth) and kept as given.
        """
        problems: list[Problem] = []
        if type(doc) is not dict and not isinstance(doc, Mapping):
            problems.append({"field": "", "code": "type", "message": "expected an object"})
            raise ValidationError(problems)
        try:
            out = self._root.check_members(doc, "", problems, apply_defaults)
        except TooManyProblems:
            out = {}
        if problems:
            raise ValidationError(problems[:MAX_PROBLEMS])
        return out

    def kind_of(self, path: Path) -> str | None:
        """The kind the query compiler compares: string, number, boolean, array or object.

        None where the path is not declared (a schemaless field or an undeclared key).
        """
        return self._root.kind_at(tuple(path), 0)

    def stray(self, path: Path) -> tuple[int, tuple[str, ...]] | None:
        """Where a path leaves what stored records can hold, or None if it may hold a value.

        (index, names): path[index] is a key a closed object (`additional: false`) does not
        declare — `names` are the ones it does — or a step into a value that has no fields
        (a string, a number, an array by name rather than position; `names` is empty).
        Records always fit the schema (a change of schema re-checks them), so such a path
        holds nothing in any record.
        """
        return self._root.stray(tuple(path), 0)

    def type_at(self, path: Path) -> str | None:
        """The declared type name at a path ("datetime", "reference", ...), None if undeclared."""
        field = self._root.field_at(tuple(path), 0)
        return field.type_name if field is not None and path else None

    def references(self) -> tuple[tuple[Path, str], ...]:
        """(path, target collection) of every reference field: (("items", "*", "sku"), "skus")."""
        return self._references

    def file_fields(self) -> Mapping[str, FileField]:
        """The file fields, by name (always top-level)."""
        return self._files

    def content_checks(self) -> tuple[tuple[Path, ContentRule], ...]:
        """(path, rule) of every string field whose text the platform checks on user writes."""
        return self._content_checks

    @property
    def additional(self) -> bool:
        """Are undeclared top-level fields kept (True) or reported as unknown_field (False)?"""
        return self._root.additional

    def to_definition(self) -> dict[str, Any]:
        """The `fields` mapping, normalized; `Schema.parse(it, additional=...)` rebuilds it."""
        return self._root.field_definitions()

    def to_json_schema(self) -> dict[str, Any]:
        """JSON Schema (2020-12, as in OpenAPI 3.1) of the user part of a stored record."""
        return self._root.value_schema()

    def __repr__(self) -> str:
        return f"Schema({', '.join(self._root.fields)}, additional={self.additional})"

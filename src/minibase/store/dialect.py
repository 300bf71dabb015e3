"""What differs between SQLite and PostgreSQL, in one place.

Paths into the JSON document are inlined into SQL (expression indexes only match literal
paths), so every path segment is checked against SEGMENT first: an identifier or an array index.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from minibase.rules.filters import SEGMENT

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

# System fields live in their own columns (indexed, typed); the document keeps a copy.
SYSTEM_COLUMNS = {
    "_id": "string",
    "_owner": "string",
    "_created": "string",
    "_updated": "string",
    "_version": "number",
}


class UnsafePath(ValueError):
    pass


def check_path(path: tuple[str, ...]) -> None:
    if not path or len(path) > 16 or not all(SEGMENT.fullmatch(segment) for segment in path):
        raise UnsafePath(".".join(path))


def quote_identifier(name: str) -> str:
    if not IDENTIFIER.fullmatch(name):
        raise UnsafePath(name)
    return f'"{name}"'


@dataclass(frozen=True, slots=True)
class ReferenceValues:
    """How a statement reads the ids at a reference path (`Dialect.reference_values`)."""

    joins: str  # after FROM: a row for each id (none for a path through no array)
    text: str  # the id in that row, as text
    among: str  # "the id is one of the next parameter's" (a JSON array of ids), on the
    # expression an index on the field is made of


class Dialect:
    name: Literal["sqlite", "postgres"]
    json_column_type: str
    bool_type: str
    bytes_column_type: str  # binary values: Python bytes in, bytes out, on both engines
    # the stored document, read to be sent as it is: bytes where the engine can give them
    document_as_sent: str
    # is the stored document's text the API's JSON, byte for byte? (SQLite keeps the text
    # written; PostgreSQL's jsonb writes its own: a float past 2^64 comes back as 20 digits)
    stored_text_is_sent: bool
    # the fields read from columns of their own: a record's, not those of the documents an
    # aggregation stage makes (`documents`), whose `_id` may be anything
    system_columns: Mapping[str, str] = SYSTEM_COLUMNS

    @property
    def documents(self) -> Dialect:
        """This engine's dialect over documents alone: every field, `_id` too, in `data`."""
        raise NotImplementedError

    def field(self, path: tuple[str, ...]) -> str:
        """The SQL expression for a field of the document (column for system fields)."""
        raise NotImplementedError

    def json_param(self) -> str:
        """Placeholder for a JSON text parameter."""
        raise NotImplementedError

    def coordinate(self, path: tuple[str, ...], axis: int, row: str = "") -> str:
        """A geopoint field's longitude (axis 0) or latitude (1), a number (NULL if none)."""
        raise NotImplementedError

    def search_text(self, path: tuple[str, ...], row: str = "") -> str:
        """The text a `$search` reads from a field (of `row`'s document): its ASCII letters
        lowered (each engine's lower(), ASCII only: SQLite's, PostgreSQL's in the "C"
        collation); NULL unless the field holds a string."""
        raise NotImplementedError

    def set_owner(self, column: str) -> str:
        """The document with its `_owner` copy set to the next parameter."""
        raise NotImplementedError

    def regex_match(self, text: str, ignore_case: bool) -> str:
        """SQL that tests the text expression against the next parameter, a $regex."""
        raise NotImplementedError

    def has_regex(self, sql: str) -> bool:
        """Does this statement do $regex work (written by `regex_match`)? Engines give such
        a statement a time budget."""
        raise NotImplementedError

    # text in byte order (PostgreSQL would follow the database's collation)
    byte_order: str = ""

    def json_texts(self) -> str:
        """A subquery of the strings in the next parameter, JSON text of an array: any number
        of values in one parameter (and one statement text, which engines keep prepared)."""
        raise NotImplementedError

    def reference_values(self, path: tuple[str, ...]) -> ReferenceValues:
        """How a statement reads the ids at a reference path, "*" standing for every item of
        an array."""
        raise NotImplementedError


class SQLiteDialect(Dialect):
    name: Literal["sqlite", "postgres"] = "sqlite"
    json_column_type = "TEXT"
    bool_type = "INTEGER"
    bytes_column_type = "BLOB"
    document_as_sent = "CAST(data AS BLOB)"  # its UTF-8 bytes, not decoded to str and back
    stored_text_is_sent = True

    @property
    def documents(self) -> Dialect:
        return SQLITE_DOCUMENTS

    def field(self, path: tuple[str, ...]) -> str:
        if len(path) == 1 and path[0] in self.system_columns:
            return path[0]
        return f"json_extract(data, '{self.json_path(path)}')"

    def json_path(self, path: tuple[str, ...]) -> str:
        check_path(path)
        text = "$"
        for segment in path:
            text += f"[{segment}]" if segment.isdigit() else f".{segment}"
        return text

    def json_type(self, path: tuple[str, ...]) -> str:
        return f"json_type(data, '{self.json_path(path)}')"

    def coordinate(self, path: tuple[str, ...], axis: int, row: str = "") -> str:
        data = f"{row}.data" if row else "data"
        return f"json_extract({data}, '{self.json_path((*path, 'coordinates', str(axis)))}')"

    def search_text(self, path: tuple[str, ...], row: str = "") -> str:
        data, json_path = f"{row}.data" if row else "data", self.json_path(path)
        return (
            f"lower(CASE WHEN json_type({data}, '{json_path}') = 'text'"
            f" THEN json_extract({data}, '{json_path}') END)"
        )

    def json_param(self) -> str:
        return "?"

    def set_owner(self, column: str) -> str:
        return f"json_set({column}, '$._owner', ?)"

    def regex_match(self, text: str, ignore_case: bool) -> str:
        return f"minibase_regexp(?, {text}, {int(ignore_case)})"  # a function of the engine's

    def has_regex(self, sql: str) -> bool:
        return "minibase_regexp(" in sql

    def json_texts(self) -> str:
        return "SELECT _texts.value FROM json_each(?) AS _texts"

    def reference_values(self, path: tuple[str, ...]) -> ReferenceValues:
        *arrays, last = _between_items(path)
        joins, source = "", "data"
        for number, array in enumerate(arrays):
            at = f", '{self.json_path(array)}'" if array else ""
            joins += f" JOIN json_each({source}{at}) AS _item{number}"
            source = f"_item{number}.value"
        if not arrays:
            value = self.field(last)
        else:
            value = f"json_extract({source}, '{self.json_path(last)}')" if last else source
        return ReferenceValues(joins, value, f"{value} IN ({self.json_texts()})")


class PostgresDialect(Dialect):
    name: Literal["sqlite", "postgres"] = "postgres"
    json_column_type = "JSONB"
    bool_type = "BOOLEAN"
    bytes_column_type = "BYTEA"
    document_as_sent = "data"
    stored_text_is_sent = False

    @property
    def documents(self) -> Dialect:
        return POSTGRES_DOCUMENTS

    def field(self, path: tuple[str, ...]) -> str:
        if len(path) == 1 and path[0] in self.system_columns:
            return path[0]
        return self.json_value(path)

    def json_value(self, path: tuple[str, ...], column: str = "data") -> str:
        """The jsonb value at the path (jsonb compares numbers numerically, types exactly)."""
        check_path(path)
        expr = column
        for segment in path:
            if segment.isdigit():
                # `scalar -> 0` gives the scalar itself in PostgreSQL: index arrays only.
                expr = f"CASE WHEN jsonb_typeof({expr}) = 'array' THEN {expr} -> {segment} END"
            else:
                expr = f"{expr} -> '{segment}'"
        return f"({expr})"

    def json_param(self) -> str:
        return "?::jsonb"

    def coordinate(self, path: tuple[str, ...], axis: int, row: str = "") -> str:
        check_path(path)
        data = f"{row}.data" if row else "data"
        return f"(({data} #>> '{{{','.join(path)},coordinates,{axis}}}')::float8)"

    def search_text(self, path: tuple[str, ...], row: str = "") -> str:
        check_path(path)
        data = f"{row}.data" if row else "data"
        return f"lower(({data} #>> '{{{','.join(path)}}}') COLLATE \"C\")"

    def set_owner(self, column: str) -> str:
        return f"jsonb_set({column}, '{{_owner}}', to_jsonb(?::text))"

    def regex_match(self, text: str, ignore_case: bool) -> str:
        return f"{text} {'~*' if ignore_case else '~'} ?"

    def has_regex(self, sql: str) -> bool:
        # Values are always bound and paths are identifiers: only `regex_match` writes these.
        return "~" in sql and (" ~ ?" in sql or " ~* ?" in sql)

    byte_order = ' COLLATE "C"'

    def json_texts(self) -> str:
        return "SELECT jsonb_array_elements_text(?::jsonb)"

    def reference_values(self, path: tuple[str, ...]) -> ReferenceValues:
        *arrays, last = _between_items(path)
        joins, source = "", "data"
        for number, array in enumerate(arrays):
            at = f"({source} #> '{_pg_path(array)}')" if array else source
            items = f"CASE WHEN jsonb_typeof({at}) = 'array' THEN {at} ELSE '[]'::jsonb END"
            joins += f" CROSS JOIN LATERAL jsonb_array_elements({items}) AS _item{number}(value)"
            source = f"_item{number}.value"
        value = self.field(last) if not arrays else f"({source} #> '{_pg_path(last)}')"
        # jsonb compared with jsonb, as a field's index holds it; = ANY(ARRAY(...)) rather
        # than IN (...), which the planner guesses at 100 rows and so reads the whole table
        among = f"{value} = ANY(ARRAY(SELECT jsonb_array_elements(?::jsonb)))"
        return ReferenceValues(joins, f"({value} #>> '{{}}')", among)


def _between_items(path: tuple[str, ...]) -> list[tuple[str, ...]]:
    """A path cut at its "*" steps: ("items", "*", "sku") -> [("items",), ("sku",)]; each
    piece is checked as any path is (an empty piece: the item itself)."""
    pieces: list[tuple[str, ...]] = [()]
    for segment in path:
        if segment == "*":
            pieces.append(())
        else:
            pieces[-1] = (*pieces[-1], segment)
    for piece in pieces:
        if piece:
            check_path(piece)
    return pieces


def _pg_path(path: tuple[str, ...]) -> str:
    """A checked path as PostgreSQL's text[] literal for #> and #>> ('{}': the value itself)."""
    return "{" + ",".join(path) + "}"


class _SQLiteDocuments(SQLiteDialect):
    system_columns: Mapping[str, str] = {}


class _PostgresDocuments(PostgresDialect):
    system_columns: Mapping[str, str] = {}


SQLITE = SQLiteDialect()
POSTGRES = PostgresDialect()
SQLITE_DOCUMENTS = _SQLiteDocuments()
POSTGRES_DOCUMENTS = _PostgresDocuments()

"""DDL for a collection's table and its indexes.

Every collection is one table named by its stable id (renames touch only metadata): system
fields in typed columns, the whole document in `data`. Declared indexes are built on exactly the
expressions the query compiler emits, with `_id` appended to non-unique ones so that a sort on
the indexed fields plus the `_id` tie-breaker reads straight from the index.
"""

from __future__ import annotations

from minibase.store.collections import Collection, IndexSpec
from minibase.store.dialect import Dialect


def create_table(dialect: Dialect, collection: Collection) -> list[str]:
    table = collection.table
    statements = [
        f"""CREATE TABLE {table} (
            _id TEXT PRIMARY KEY,
            _owner TEXT,
            _created TEXT NOT NULL,
            _updated TEXT NOT NULL,
            _version INTEGER NOT NULL,
            data {dialect.json_column_type} NOT NULL)""",
        # Owner rules ("doc._owner == auth.id") are the most common filter of all.
        f'CREATE INDEX "o_{collection.id}" ON {table} (_owner, _id)',
    ]
    statements.extend(create_index(dialect, collection, index) for index in collection.indexes)
    return statements


def drop_table(collection: Collection) -> list[str]:
    return [f"DROP TABLE {collection.table}"]


def index_columns(dialect: Dialect, index: IndexSpec) -> list[str]:
    columns = []
    for path, descending in index.keys:
        expr = dialect.field(path)
        if dialect.name == "postgres" and not path[0].startswith("_"):
            expr = f"({expr})"
        columns.append(f"{expr} {order_suffix(dialect, descending)}")
    if not index.unique:
        # The same suffix as the list query's ORDER BY: PostgreSQL only reads an index in
        # order when the NULLS placement matches too, even on a NOT NULL column.
        columns.append(f"_id {order_suffix(dialect, index.keys[-1][1])}")
    return columns


def order_suffix(dialect: Dialect, descending: bool) -> str:
    """Nulls sort as the smallest value on both engines (SQLite's own order)."""
    if dialect.name == "postgres":
        return "DESC NULLS LAST" if descending else "ASC NULLS FIRST"
    return "DESC" if descending else "ASC"


def create_index(dialect: Dialect, collection: Collection, index: IndexSpec) -> str:
    unique = "UNIQUE " if index.unique else ""
    columns = ", ".join(index_columns(dialect, index))
    return f"CREATE {unique}INDEX {collection.index_name(index)} ON {collection.table} ({columns})"


def drop_index(collection: Collection, index: IndexSpec) -> str:
    return f"DROP INDEX {collection.index_name(index)}"

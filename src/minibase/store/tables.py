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
    for index in collection.indexes:
        statements.extend(create_index(dialect, collection, index))
    return statements


def drop_table(dialect: Dialect, collection: Collection) -> list[str]:
    dropped = []
    for index in collection.indexes:  # SQLite's tables of their own, and their triggers
        if index.search or index.geo:
            dropped += drop_index(dialect, collection, index)
    return [*dropped, f"DROP TABLE {collection.table}"]


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


def create_index(dialect: Dialect, collection: Collection, index: IndexSpec) -> list[str]:
    if index.search:
        return _create_search(dialect, collection, index)
    if index.geo:
        return _create_geo(dialect, collection, index)
    unique = "UNIQUE " if index.unique else ""
    columns = ", ".join(index_columns(dialect, index))
    return [
        f"CREATE {unique}INDEX {collection.index_name(index)} ON {collection.table} ({columns})"
    ]


def drop_index(dialect: Dialect, collection: Collection, index: IndexSpec) -> list[str]:
    if index.geo and dialect.name == "sqlite":
        return [
            *(f"DROP TRIGGER {_trigger(collection, 'g' + event)}" for event in _EVENTS),
            f"DROP TABLE {collection.geo_table}",
        ]
    if not index.search:
        return [f"DROP INDEX {collection.index_name(index)}"]
    if dialect.name == "postgres":
        return [
            f"DROP INDEX {_search_index_name(collection, index, n)}" for n in range(len(index.keys))
        ]
    return [
        *(
            f"DROP TRIGGER {_trigger(collection, event)}"
            for event in ("insert", "update", "delete")
        ),
        f"DROP TABLE {collection.search_table}",
    ]


_EVENTS = ("insert", "update", "delete")


# -- geopoints ------------------------------------------------------------------------------
#
# SQLite keeps each point of a geo index in an R*Tree (its box: the point, rounded outward to
# the tree's 32-bit floats), by the record's rowid, kept by triggers as the search table is;
# PostgreSQL a GiST index on the point. Both serve a box around what is asked; the exact
# distance (haversine) or bounds are checked on the rows the box finds.


def _create_geo(dialect: Dialect, collection: Collection, index: IndexSpec) -> list[str]:
    (path,) = index.paths
    table = collection.table
    if dialect.name == "postgres":
        point = f"point({dialect.coordinate(path, 0)}, {dialect.coordinate(path, 1)})"
        return [f"CREATE INDEX {collection.index_name(index)} ON {table} USING gist (({point}))"]
    geo = collection.geo_table

    def box(row: str) -> str:
        x, y = dialect.coordinate(path, 0, row), dialect.coordinate(path, 1, row)
        return f"SELECT {row}.rowid, {x}, {x}, {y}, {y} WHERE {x} IS NOT NULL AND {y} IS NOT NULL"

    insert = f"INSERT INTO {geo}(id, min_x, max_x, min_y, max_y) {box('new')};"
    remove = f"DELETE FROM {geo} WHERE id = old.rowid;"
    x, y = dialect.coordinate(path, 0), dialect.coordinate(path, 1)
    return [
        f"CREATE VIRTUAL TABLE {geo} USING rtree(id, min_x, max_x, min_y, max_y)",
        f"CREATE TRIGGER {_trigger(collection, 'ginsert')} AFTER INSERT ON {table}"
        f" BEGIN {insert} END",
        f"CREATE TRIGGER {_trigger(collection, 'gupdate')} AFTER UPDATE OF data ON {table}"
        f" BEGIN {remove} {insert} END",
        f"CREATE TRIGGER {_trigger(collection, 'gdelete')} AFTER DELETE ON {table}"
        f" BEGIN {remove} END",
        f"INSERT INTO {geo}(id, min_x, max_x, min_y, max_y) SELECT rowid, {x}, {x}, {y}, {y}"
        f" FROM {table} WHERE {x} IS NOT NULL AND {y} IS NOT NULL",
    ]


# -- text search ----------------------------------------------------------------------------
#
# What a search matches: the text of a record's string field, its ASCII letters lowered (the
# engines' own lower() on SQLite, lower() in the "C" collation on PostgreSQL: both ASCII only),
# holding the query as a substring. SQLite keeps those texts in an FTS5 table of trigrams (one
# column a field, by the record's rowid), kept by triggers in the writes' own transactions;
# PostgreSQL indexes each field's text with pg_trgm.


def _trigger(collection: Collection, event: str) -> str:
    return f'"t_{collection.id}_{event}"'


def _search_index_name(collection: Collection, index: IndexSpec, n: int) -> str:
    return f'"x_{collection.id}_{index.fingerprint}_{n}"'


def _create_search(dialect: Dialect, collection: Collection, index: IndexSpec) -> list[str]:
    table = collection.table
    if dialect.name == "postgres":
        return [
            "CREATE EXTENSION IF NOT EXISTS pg_trgm",
            *(
                f"CREATE INDEX {_search_index_name(collection, index, n)} ON {table}"
                f" USING gin (({dialect.search_text(path)}) gin_trgm_ops)"
                for n, path in enumerate(index.paths)
            ),
        ]
    search = collection.search_table
    columns = ", ".join(f"f{n}" for n in range(len(index.keys)))

    def texts(row: str) -> str:
        return ", ".join(dialect.search_text(path, row) for path in index.paths)

    insert = f"INSERT INTO {search}(rowid, {columns}) VALUES (new.rowid, {texts('new')});"
    remove = f"DELETE FROM {search} WHERE rowid = old.rowid;"
    return [
        f"CREATE VIRTUAL TABLE {search} USING fts5({columns},"
        " tokenize = 'trigram case_sensitive 1')",
        f"CREATE TRIGGER {_trigger(collection, 'insert')} AFTER INSERT ON {table}"
        f" BEGIN {insert} END",
        f"CREATE TRIGGER {_trigger(collection, 'update')} AFTER UPDATE OF data ON {table}"
        f" BEGIN {remove} {insert} END",
        f"CREATE TRIGGER {_trigger(collection, 'delete')} AFTER DELETE ON {table}"
        f" BEGIN {remove} END",
        f"INSERT INTO {search}(rowid, {columns}) SELECT rowid, {texts(table)} FROM {table}",
    ]

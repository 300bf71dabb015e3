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
        return _drop_kept(collection, "g", collection.geo_table)
    if not index.search:
        return [f"DROP INDEX {collection.index_name(index)}"]
    if dialect.name == "postgres":
        return [
            f"DROP INDEX {_search_index_name(collection, index, n)}" for n in range(len(index.keys))
        ]
    return _drop_kept(collection, "", collection.search_table)


_EVENTS = ("insert", "update", "delete")


def _kept_by_triggers(
    collection: Collection,
    prefix: str,
    create: str,
    side: str,
    columns: str,
    values: str,
    where: str = "",
) -> list[str]:
    """SQLite: a table of its own (FTS5, R*Tree) holding what an index reads of each record,
    by the record's rowid (its first column), kept by triggers in each write's transaction and
    filled from the records already there. `values` read the record as `new`."""
    table = collection.table
    insert = f"INSERT INTO {side}({columns}) SELECT {values}"
    key = columns.split(",", 1)[0]
    remove = f"DELETE FROM {side} WHERE {key} = old.rowid;"
    return [
        create,
        f"CREATE TRIGGER {_trigger(collection, prefix + 'insert')} AFTER INSERT ON {table}"
        f" BEGIN {insert}{where}; END",
        f"CREATE TRIGGER {_trigger(collection, prefix + 'update')} AFTER UPDATE OF data"
        f" ON {table} BEGIN {remove} {insert}{where}; END",
        f"CREATE TRIGGER {_trigger(collection, prefix + 'delete')} AFTER DELETE ON {table}"
        f" BEGIN {remove} END",
        f"{insert} FROM {table} AS new{where}",
    ]


def _drop_kept(collection: Collection, prefix: str, side: str) -> list[str]:
    return [
        *(f"DROP TRIGGER {_trigger(collection, prefix + event)}" for event in _EVENTS),
        f"DROP TABLE {side}",
    ]


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
    x, y = dialect.coordinate(path, 0, "new"), dialect.coordinate(path, 1, "new")
    return _kept_by_triggers(
        collection,
        "g",
        f"CREATE VIRTUAL TABLE {collection.geo_table} USING rtree(id, min_x, max_x, min_y, max_y)",
        collection.geo_table,
        "id, min_x, max_x, min_y, max_y",
        f"new.rowid, {x}, {x}, {y}, {y}",
        f" WHERE {x} IS NOT NULL AND {y} IS NOT NULL",
    )


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
    texts = ", ".join(dialect.search_text(path, "new") for path in index.paths)
    return _kept_by_triggers(
        collection,
        "",
        f"CREATE VIRTUAL TABLE {search} USING fts5({columns},"
        " tokenize = 'trigram case_sensitive 1')",
        search,
        f"rowid, {columns}",
        f"new.rowid, {texts}",
    )

"""Files: one row per stored object of a collection's file fields (see minibase.files.catalog).

A row is written before its object (`uploading`), so an object without a row is an orphan that
`minibase files gc` may remove; it becomes `ready` when the object is whole, held by a record
(`record_id`) or pending (no record yet, `owner` may still write it into one), and `deleting`
once no record holds it, until the `minibase.files.delete` job removed the object and the row.
`check` is the platform's media check of an image: NULL (none asked), `reviewing`, then the
verdict (`pass`, `review`, `risky`); `check_trace` finds the row when the verdict arrives.
"""

from __future__ import annotations

from minibase.store.dialect import Dialect

VERSION = 14
NAME = "files"


def statements(dialect: Dialect) -> list[str]:
    return [
        """CREATE TABLE files (
            id TEXT PRIMARY KEY,
            collection_id TEXT NOT NULL,
            field TEXT NOT NULL,
            record_id TEXT,
            owner TEXT,
            object_key TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            size BIGINT NOT NULL DEFAULT 0,
            type TEXT NOT NULL DEFAULT '',
            etag TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL,
            "check" TEXT,
            check_trace TEXT,
            created TEXT NOT NULL,
            updated TEXT NOT NULL)""",
        "CREATE INDEX files_collection ON files (collection_id, created, id)",
        "CREATE INDEX files_record ON files (collection_id, record_id)",
        "CREATE INDEX files_state ON files (state, updated)",
        "CREATE INDEX files_check_trace ON files (check_trace)",
    ]

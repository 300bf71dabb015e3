"""Uploads waiting for a record (pending, or unfinished) found by an index of their own: the
scheduler asks every round whether one is due for collection, and with every file of every
record `ready` in `files_state (state, updated)` that look read them all. `files_state` served
no query and goes."""

from __future__ import annotations

from minibase.store.dialect import Dialect

VERSION = 15
NAME = "files_waiting_index"


def statements(dialect: Dialect) -> list[str]:
    return [
        "DROP INDEX files_state",
        "CREATE INDEX files_waiting ON files (state, created) WHERE record_id IS NULL",
    ]

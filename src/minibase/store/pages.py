"""Pages of system-table rows, newest first: equality filters and a `before` id."""

from __future__ import annotations

from typing import Any


def newest_first(
    table: str,
    columns: str,
    *,
    before: str | None,
    limit: int,
    always: str | None = None,
    **equal: str | None,
) -> tuple[str, list[Any]]:
    """The SELECT (and its arguments) for one page: rows matching every filter given (None is
    not filtered) and the fixed condition `always`, ids below `before`, newest (highest id)
    first."""
    given = {column: value for column, value in equal.items() if value is not None}
    conditions = [f"{column} = ?" for column in given]
    if always is not None:
        conditions.insert(0, always)
    args: list[Any] = list(given.values())
    if before is not None:
        conditions.append("id < ?")
        args.append(before)
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    return f"SELECT {columns} FROM {table}{where} ORDER BY id DESC LIMIT ?", [*args, limit]

"""Two admin lists read indexes: what happened to orders by where it came from (a
notification, reconciliation, an admin: `pay_events.source`, filled from the detail for the
events before it), and media checks newest first."""

from __future__ import annotations

from minibase.store.dialect import Dialect

VERSION = 18
NAME = "admin_lists"


def statements(dialect: Dialect) -> list[str]:
    source = "json_extract(detail, '$.source')" if dialect.name == "sqlite" else "detail->>'source'"
    return [
        "ALTER TABLE pay_events ADD COLUMN source TEXT",
        f"UPDATE pay_events SET source = {source}",
        "CREATE INDEX pay_events_source ON pay_events (source, id)",
        "CREATE INDEX content_media_checks_created ON content_media_checks (created, trace_id)",
    ]

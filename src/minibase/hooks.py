"""Record events, and the hooks that features call around every record write.

The records feature calls `before` inside the write's transaction (a hook may change the
record or refuse it with an ApiError) and `after` in the same transaction too — the functions
runtime turns each "after" hook into a durable job there, so the event commits with the write
and its hooks run once it has. Without user hooks, `NoHooks` costs one dictionary lookup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from minibase.auth.caller import Caller
from minibase.store.database import Connection

Action = Literal["create", "update", "delete"]


@dataclass
class RecordEvent:
    collection: str
    action: Action
    record: dict[str, Any]  # as it will be (create, update) or as it was (delete)
    previous: dict[str, Any] | None  # as it was, for an update
    caller: Caller
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        caller = self.caller
        return {
            "collection": self.collection,
            "action": self.action,
            "record": self.record,
            "previous": self.previous,
            "caller": {
                "kind": caller.kind,
                "id": caller.id,
                "roles": list(caller.roles),
                "platform": caller.platform,
                "appid": caller.appid,
            },
        }


class RecordHooks(Protocol):
    def watches(self, collection: str, action: Action) -> bool:
        """Is any hook registered for this collection and action?"""
        ...

    async def before(self, event: RecordEvent, conn: Connection) -> None: ...

    async def after(self, event: RecordEvent, conn: Connection) -> None: ...


class NoHooks:
    def watches(self, collection: str, action: Action) -> bool:
        return False

    async def before(self, event: RecordEvent, conn: Connection) -> None:
        return None

    async def after(self, event: RecordEvent, conn: Connection) -> None:
        return None

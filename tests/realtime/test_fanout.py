"""A change is judged once per distinct watched condition and serialized once for all the
watchers it concerns, without two conditions that only look alike sharing a verdict."""

from __future__ import annotations

from typing import Any

import orjson

from minibase.auth.caller import Caller
from minibase.data.changes import Change
from minibase.realtime.hub import Fanout, Subscription
from minibase.rules.conditions import Compare
from minibase.store.collections import parse_definition

NOTES = parse_definition(
    {"name": "notes", "fields": {}, "rules": {"preset": "public_read_owner_write"}},
    collection_id="notes",
)
ADMIN = Caller(kind="admin")


def watcher(sub_id: str, value: Any, inbox: list[dict[str, Any]]) -> Subscription:
    def deliver(message: dict[str, Any] | str) -> None:
        inbox.append(orjson.loads(message) if isinstance(message, str) else message)

    return Subscription(sub_id, Compare("eq", ("n",), value), ADMIN, NOTES, deliver)


def test_watchers_of_one_and_of_true_are_told_apart() -> None:
    inbox: list[dict[str, Any]] = []
    one, true, also_one = (
        watcher("one", 1, inbox),
        watcher("true", True, inbox),
        watcher("also_one", 1, inbox),
    )
    doc = {"_id": "a", "_version": 1, "n": 1}
    fanout = Fanout(Change(7, "notes", "a", "create", doc, None))
    for subscription in (one, true, also_one):
        subscription.hand(fanout)
    assert [(m["id"], m["change"], m["event"], m["doc"]) for m in inbox] == [
        ("one", "add", 7, doc),
        ("also_one", "add", 7, doc),
    ]


def test_an_update_out_of_the_query_removes_the_record_as_it_was() -> None:
    inbox: list[dict[str, Any]] = []
    one = watcher("one", 1, inbox)
    before, after = {"_id": "a", "_version": 1, "n": 1}, {"_id": "a", "_version": 2, "n": 2}
    one.hand(Fanout(Change(8, "notes", "a", "update", after, before)))
    one.hand(Fanout(Change(9, "notes", "a", "delete", after, None)))  # never matched: nothing
    assert inbox == [
        {
            "type": "change",
            "id": "one",
            "event": 8,
            "change": "remove",
            "action": "update",
            "doc": before,
        }
    ]

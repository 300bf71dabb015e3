"""The hub of one process: its subscriptions, and one reader of the change log that hands
each committed change to the subscriptions it concerns.

A subscription is a collection and a condition (the subscriber's filter and the collection's
list rule, bound to the subscriber). For each change the hub asks whether the record matched
before and matches after: add, update or remove — so a record that stops matching, or stops
being visible, is removed from the subscriber's view. Nothing here waits on a subscriber: a
message that does not fit in its connection's queue closes that connection as too slow.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from minibase.auth.caller import Caller
from minibase.data.access import rule_condition
from minibase.data.changes import (
    CHANGES_CHANNEL,
    Change,
    Position,
    changes_after,
    read_settled,
    settled_position,
)
from minibase.errors import ApiError
from minibase.rules.conditions import Condition, all_of, evaluate
from minibase.store.collections import Collection
from minibase.store.notifications import RECONNECT_AFTER, relay
from minibase.store.siblings import Siblings, available
from minibase.store.sqlite import SQLiteDatabase

if TYPE_CHECKING:
    from minibase.services import Services

log = logging.getLogger("minibase.realtime")
BATCH = 500
ANNOUNCE_SPACING = 0.002  # seconds between two messages telling other processes of commits
GAP_RECHECK = 0.005  # seconds: the first look again at a gap (doubling to the poll interval)
REDIS_CHANNEL = "minibase:changes"


class Fanout:
    """One change, as every subscription of a process sees it: each distinct condition is
    evaluated once (a thousand clients watching one room cost one evaluation), and each doc
    is serialized once, into every message that carries it."""

    def __init__(self, change: Change) -> None:
        self.change = change
        self._verdicts: dict[str, tuple[bool, bool]] = {}
        self._json: dict[bool, str] = {}

    def verdict(self, key: str, condition: Condition) -> tuple[bool, bool]:
        """(the record matched before the change, matches after it)"""
        verdict = self._verdicts.get(key)
        if verdict is None:
            change = self.change
            now = change.action != "delete" and evaluate(condition, change.doc)
            before_doc = change.doc if change.action == "delete" else change.previous
            before = before_doc is not None and evaluate(condition, before_doc)
            verdict = self._verdicts[key] = (before, now)
        return verdict

    def doc_json(self, current: bool) -> str:
        text = self._json.get(current)
        if text is None:
            doc = self.change.doc if current else self.change.previous
            text = self._json[current] = orjson.dumps(doc).decode()
        return text


@dataclass(eq=False)
class Subscription:
    """One query a client watches, on one of its connections: the client's filter, and the
    collection's list and read rules bound to the client (bound again when either changes)."""

    id: str
    filter: Condition
    caller: Caller
    bound_to: Collection
    # queues a message for the client (a change comes as its JSON text), never waits
    deliver: Callable[[dict[str, Any] | str], None]
    after: int = 0  # changes up to this number are in what the client already has
    condition: Condition = field(init=False)
    # the condition as text, types and all (1, 1.0 and true are three): equal texts, equal
    # verdicts on any record
    key: str = field(init=False)
    # the snapshot's records (id -> _version) while changes up to `listed_through` come: a
    # change the snapshot already shows is not sent again
    listed: dict[str, int] | None = None
    listed_through: int = 0

    def __post_init__(self) -> None:
        self.bind(self.caller, self.bound_to)
        self._head = '{"type":"change","id":' + orjson.dumps(self.id).decode() + ',"event":'

    @property
    def collection(self) -> str:
        return self.bound_to.name

    def bind(self, caller: Caller, collection: Collection) -> None:
        """The rule as it is now, for the caller as it is now; ApiError if they may no longer
        list the collection."""
        # what the list shows and what a read of the record would show: both must allow it
        visible = all_of(
            rule_condition(caller, collection, "list"), rule_condition(caller, collection, "read")
        )
        self.caller, self.bound_to = caller, collection
        self.condition = all_of(self.filter, visible)
        self.key = repr(self.condition)

    def hand(self, change: Change | Fanout) -> None:
        """Send the subscriber what this change means to it, if anything: "add", "update" or
        "remove" of its view, with the write behind it (create, update or delete)."""
        fanout = change if isinstance(change, Fanout) else Fanout(change)
        change = fanout.change
        if change.seq <= self.after:
            return
        before, now = fanout.verdict(self.key, self.condition)
        if now:
            kind, current = ("update" if before else "add"), True
        elif before:
            kind, current = "remove", change.action == "delete"  # as the subscriber last saw it
        else:
            return
        doc = change.doc if current else change.previous
        listed = self.listed is not None and doc is not None
        if listed and self._listed_already(change.seq, kind, doc):  # type: ignore[arg-type]
            return
        self.deliver(
            f'{self._head}{change.seq},"change":"{kind}","action":"{change.action}",'
            f'"doc":{fanout.doc_json(current)}}}'
        )

    def _listed_already(self, seq: int, kind: str, doc: dict[str, Any]) -> bool:
        """Does the snapshot show this change already? (It was listed after the changes up to
        `after` and before those after `listed_through`: between the two, it may.)"""
        assert self.listed is not None
        if seq > self.listed_through:
            self.listed = None
            return False
        record_id, version = doc["_id"], doc.get("_version")
        listed = self.listed.get(record_id)
        if kind == "remove":
            if record_id not in self.listed:
                return True  # gone before the list: the client never had it
            del self.listed[record_id]
            return False
        if listed is not None and version is not None and version <= listed:
            return True
        if version is not None:
            self.listed[record_id] = version
        return False


@dataclass
class Hub:
    services: Services
    _subscriptions: dict[str, set[Subscription]] = field(default_factory=dict)
    _position: Position = field(default_factory=lambda: Position(0))
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _starting: asyncio.Lock = field(default_factory=asyncio.Lock)
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _redis_client: Any = None
    _siblings_here: Siblings | None = None
    _announcer: asyncio.Task[None] | None = None
    _announce_again: bool = False
    connections: int = 0
    token_watch: Any = None  # the sockets' one token timer (realtime.socket.TokenWatch)

    def wake(self) -> None:
        """A change committed somewhere (a NOTIFY, a Redis message, a sibling's datagram):
        read the log now."""
        self._wakeup.set()

    def committed(self) -> None:
        """A change committed in this process: read the log now, and tell the other processes
        (PostgreSQL's NOTIFY; on SQLite, Redis when configured, else a datagram to each
        process listening on the same file). One message tells of every commit made while
        the one before it was on its way, so writers never wait for it."""
        self._wakeup.set()
        if not self._notifies and self._redis is None and self._siblings is None:
            return  # nobody else to tell
        if self._announcer is not None and not self._announcer.done():
            self._announce_again = True
            return
        self._announcer = asyncio.get_running_loop().create_task(self._announce())

    async def _announce(self) -> None:
        self._announce_again = True
        while self._announce_again:
            self._announce_again = False
            try:
                if self._notifies:
                    await self.services.db.fetch_value("SELECT pg_notify(?, '')", CHANGES_CHANNEL)
                elif self._redis is not None:
                    await self._redis.publish(REDIS_CHANNEL, b"")
                elif self._siblings is not None:
                    self._siblings.tell()
            except Exception:  # the others read the log by interval meanwhile
                log.warning("telling other processes of a change failed")
            # under a stream of writes, one message every few milliseconds tells of them all
            await asyncio.sleep(ANNOUNCE_SPACING)

    @property
    def _notifies(self) -> bool:
        """Does the database tell every instance of a commit itself (PostgreSQL's NOTIFY)?"""
        return getattr(self.services.db, "listening", None) is not None

    @property
    def _redis(self) -> Any:
        url = self.services.settings.cache_url
        if url is None:
            return None
        if self._redis_client is None:
            import redis.asyncio as redis

            self._redis_client = redis.from_url(url)
        return self._redis_client

    @property
    def _siblings(self) -> Siblings | None:
        """On SQLite without Redis: the other processes on the same database file."""
        if self._siblings_here is None and self._redis is None and available():
            db = self.services.db
            if isinstance(db, SQLiteDatabase):
                self._siblings_here = Siblings(db.path)
        return self._siblings_here

    @property
    def subscriptions(self) -> int:
        return sum(len(subs) for subs in self._subscriptions.values())

    async def position(self) -> int:
        """Every change up to this number is settled and read: a snapshot listed after
        asking holds them all, and a subscription starting here misses none after it."""
        await self._start()
        return self._position.after

    async def subscribe(self, subscription: Subscription) -> None:
        """Start delivering to `subscription` every change after `subscription.after`: those
        the hub has read already are replayed to it first, in order."""
        await self._start()
        async with self._lock:
            cursor = self._position.after
            if subscription.after < cursor:
                async with self.services.db.reader() as reader:
                    seq = subscription.after
                    while seq < cursor:
                        batch = await changes_after(reader, seq, BATCH)
                        for change in batch:
                            if change.seq > cursor:
                                break
                            if change.collection == subscription.collection:
                                subscription.hand(change)
                        if not batch:
                            break
                        seq = batch[-1].seq
                subscription.after = cursor
            self._subscriptions.setdefault(subscription.collection, set()).add(subscription)

    def unsubscribe(self, subscription: Subscription) -> None:
        subs = self._subscriptions.get(subscription.collection)
        if subs is not None:
            subs.discard(subscription)
            if not subs:
                del self._subscriptions[subscription.collection]

    async def _start(self) -> None:
        if self._tasks:
            return
        async with self._starting:  # the first subscribers arrive together: one reader
            if self._tasks:
                return
            async with self.services.db.reader() as reader:
                self._position = await settled_position(reader)
            self._begin_reading()

    def _begin_reading(self) -> None:
        self._tasks.append(asyncio.create_task(self._read_forever()))
        if self._notifies:
            relayed = relay(self.services.db, CHANGES_CHANNEL, self.wake, self._stop, log)
            self._tasks.append(asyncio.create_task(relayed))
        elif self._redis is not None:
            self._tasks.append(asyncio.create_task(self._listen_to_redis_forever()))
        elif self._siblings is not None:
            self._siblings.listen(self.wake)

    async def close(self) -> None:
        if self.token_watch is not None:
            self.token_watch.close()
        self._stop.set()
        self._wakeup.set()
        for task in self._tasks:
            task.cancel()
        announcer = () if self._announcer is None else (self._announcer,)
        for task in (*self._tasks, *announcer):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._siblings_here is not None:
            self._siblings_here.close()
        if self._redis_client is not None:
            await self._redis_client.aclose()

    async def _read_forever(self) -> None:
        interval = self.services.settings.realtime_poll_interval
        wait, gap = interval, None
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), wait)
            self._wakeup.clear()
            try:
                await self.read()
            except Exception:
                log.exception("reading the change log failed; trying again")
            # a gap is a commit in flight (its NOTIFY wakes the hub) or a rollback (nothing
            # does): look again soon, then less and less often
            if self._position.gap is None:
                wait = interval
            else:
                wait = GAP_RECHECK if self._position.gap is not gap else min(wait * 2, interval)
            gap = self._position.gap

    async def read(self) -> None:
        """Hand every change committed since the last read to the subscriptions."""
        async with self._lock:
            while True:
                async with self.services.db.reader() as reader:
                    batch = await read_settled(reader, self._position, BATCH)
                # the rules as they are now: a definition changed before these changes
                # committed has been loaded by then (in this process; others within a second)
                await self._follow_definitions()
                for change in batch:
                    subscriptions = self._subscriptions.get(change.collection)
                    if subscriptions:
                        fanout = Fanout(change)
                        for subscription in tuple(subscriptions):
                            subscription.hand(fanout)
                if len(batch) < BATCH:
                    return

    async def _follow_definitions(self) -> None:
        """A collection whose rules changed binds its subscriptions again; one dropped, or
        that a subscriber may no longer list, ends theirs (with an error saying why)."""
        registry = self.services.collections
        await registry.all()  # reloads the definitions when another process changed them
        for name, subscriptions in tuple(self._subscriptions.items()):
            current = registry.find(name)
            for subscription in tuple(subscriptions):
                if subscription.bound_to is current:
                    continue
                try:
                    if current is None:
                        raise ApiError("collections.not_found", 404, f"{name!r} was dropped")
                    subscription.bind(subscription.caller, current)
                except ApiError as error:
                    self.unsubscribe(subscription)
                    subscription.deliver(
                        {
                            "type": "error",
                            "id": subscription.id,
                            "code": error.code,
                            "message": error.message,
                        }
                    )

    async def _listen_to_redis_forever(self) -> None:
        while not self._stop.is_set():
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(REDIS_CHANNEL)
                    self.wake()
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self.wake()
            except Exception:
                log.exception("listening for changes on Redis failed; reading the log by interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), RECONNECT_AFTER)

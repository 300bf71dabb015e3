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

from minibase.auth.caller import Caller
from minibase.data.access import rule_condition
from minibase.data.changes import CHANGES_CHANNEL, Change, changes_after, last_seq
from minibase.errors import ApiError
from minibase.rules.conditions import Condition, all_of, evaluate
from minibase.store.collections import Collection
from minibase.store.notifications import RECONNECT_AFTER, relay

if TYPE_CHECKING:
    from minibase.services import Services

log = logging.getLogger("minibase.realtime")
BATCH = 500
REDIS_CHANNEL = "minibase:changes"


@dataclass(eq=False)
class Subscription:
    """One query a client watches, on one of its connections: the client's filter, and the
    collection's list and read rules bound to the client (bound again when either changes)."""

    id: str
    filter: Condition
    caller: Caller
    bound_to: Collection
    deliver: Callable[[dict[str, Any]], None]  # queues a message for the client, never waits
    after: int = 0  # changes up to this number are in what the client already has
    condition: Condition = field(init=False)

    def __post_init__(self) -> None:
        self.bind(self.caller, self.bound_to)

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

    def hand(self, change: Change) -> None:
        """Send the subscriber what this change means to it, if anything."""
        message = self.message(change)
        if message is not None:
            self.deliver(message)

    def message(self, change: Change) -> dict[str, Any] | None:
        """What this change means to the subscriber, if anything."""
        if change.seq <= self.after:
            return None
        now = change.action != "delete" and evaluate(self.condition, change.doc)
        before_doc = change.doc if change.action == "delete" else change.previous
        before = before_doc is not None and evaluate(self.condition, before_doc)
        if now:
            kind, doc = ("update" if before else "add"), change.doc
        elif before and before_doc is not None:
            kind, doc = "remove", before_doc  # as the subscriber could last see it
        else:
            return None
        return {
            "type": "change",
            "id": self.id,
            "event": change.seq,
            "change": kind,  # what it is to this watcher's view
            "action": change.action,  # what the write was: create, update or delete
            "doc": doc,
        }


@dataclass
class Hub:
    services: Services
    _subscriptions: dict[str, set[Subscription]] = field(default_factory=dict)
    _cursor: int = 0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _redis_client: Any = None
    _announcing: set[asyncio.Task[None]] = field(default_factory=set)
    connections: int = 0

    def wake(self) -> None:
        """A change committed somewhere (a NOTIFY, a Redis message): read the log now."""
        self._wakeup.set()

    def committed(self) -> None:
        """A change committed in this process: read the log now, and with Redis configured,
        tell the other processes (on PostgreSQL the transaction's NOTIFY has told them)."""
        self._wakeup.set()
        if self._redis is not None and not self._notifies:
            task = asyncio.get_running_loop().create_task(self._announce())
            self._announcing.add(task)
            task.add_done_callback(self._announcing.discard)

    async def _announce(self) -> None:
        try:
            await self._redis.publish(REDIS_CHANNEL, b"")
        except Exception:  # the others read the log by interval meanwhile
            log.warning("telling other processes of a change through Redis failed")

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
    def subscriptions(self) -> int:
        return sum(len(subs) for subs in self._subscriptions.values())

    async def subscribe(self, subscription: Subscription) -> None:
        """Start delivering to `subscription` every change after `subscription.after`: those
        the hub has read already are replayed to it first, in order."""
        await self._start()
        async with self._lock:
            if subscription.after < self._cursor:
                async with self.services.db.reader() as reader:
                    seq = subscription.after
                    while seq < self._cursor:
                        batch = await changes_after(reader, seq, BATCH)
                        for change in batch:
                            if change.seq > self._cursor:
                                break
                            if change.collection == subscription.collection:
                                subscription.hand(change)
                        if not batch:
                            break
                        seq = batch[-1].seq
                subscription.after = self._cursor
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
        async with self.services.db.reader() as reader:
            self._cursor = await last_seq(reader)
        self._tasks.append(asyncio.create_task(self._read_forever()))
        if self._notifies:
            relayed = relay(self.services.db, CHANGES_CHANNEL, self.wake, self._stop, log)
            self._tasks.append(asyncio.create_task(relayed))
        elif self._redis is not None:
            self._tasks.append(asyncio.create_task(self._listen_to_redis_forever()))

    async def close(self) -> None:
        self._stop.set()
        self._wakeup.set()
        for task in self._tasks:
            task.cancel()
        for task in (*self._tasks, *self._announcing):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self._redis_client is not None:
            await self._redis_client.aclose()

    async def _read_forever(self) -> None:
        interval = self.services.settings.realtime_poll_interval
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), interval)
            self._wakeup.clear()
            try:
                await self.read()
            except Exception:
                log.exception("reading the change log failed; trying again")

    async def read(self) -> None:
        """Hand every change committed since the last read to the subscriptions."""
        async with self._lock:
            while True:
                async with self.services.db.reader() as reader:
                    batch = await changes_after(reader, self._cursor, BATCH)
                # the rules as they are now: a definition changed before these changes
                # committed has been loaded by then (in this process; others within a second)
                await self._follow_definitions()
                for change in batch:
                    for subscription in tuple(self._subscriptions.get(change.collection, ())):
                        subscription.hand(change)
                    self._cursor = change.seq
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

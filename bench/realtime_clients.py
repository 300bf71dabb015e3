"""The realtime benchmark's watchers: one process holding many sockets (minibase's WebSocket,
or PocketBase's server-sent events), each watching one query and noting when each change
arrives (`time.monotonic()`, the same clock in every process of the machine).

bench/realtime.py starts a few of these processes (multiprocessing) and talks to each over a
pipe: the child answers `("ready", {...})` once every socket has its subscription in place;
the parent sends `("measure", {record_id: (sent_at, acknowledged_at)})` after each phase, and
the child waits until every watcher whose filter matches has each of those records (or until
nothing arrived for `QUIET` seconds), then answers `("tally", Tally)`; `("stop", None)` ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import quote

import httpx
import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

QUIET = 3.0  # seconds without an arrival after which a phase's stragglers count as dropped
MAX_WAIT = 60.0  # seconds a phase's deliveries may take after its last write
CONNECTING = 50  # sockets opened at once by one process
BUCKET = 10_000  # latency histogram buckets per second (0.1 ms)


@dataclass(frozen=True)
class Watcher:
    url: int  # index into WatchPlan.urls: the instance it is connected to
    matches: bool  # its filter matches the records the writer creates


@dataclass(frozen=True)
class WatchPlan:
    kind: str  # "minibase" (WebSocket) or "pocketbase" (SSE)
    urls: tuple[str, ...]
    auth: str  # the Authorization header value
    collection: str
    match_filter: Any  # minibase: a JSON filter; PocketBase: a filter expression
    miss_filter: Any
    watchers: tuple[Watcher, ...]


@dataclass
class Tally:
    """What one process's watchers received of one phase's records, per instance."""

    expected: Counter[int] = field(default_factory=Counter)  # matching watchers x records
    delivered: Counter[int] = field(default_factory=Counter)
    unexpected: int = 0  # arrivals at a watcher whose filter does not match
    stray: int = 0  # arrivals of records not in this phase (late from the one before)
    latency: dict[int, Counter[int]] = field(default_factory=dict)  # BUCKET units from the ack
    from_request: Counter[int] = field(default_factory=Counter)  # from the create's request
    last_arrival: float = 0.0
    closed: Counter[str] = field(default_factory=Counter)  # sockets that ended, by reason


@dataclass
class _State:
    plan: WatchPlan
    arrivals: dict[int, defaultdict[str, list[float]]] = field(default_factory=dict)
    unexpected: int = 0
    alive: Counter[int] = field(default_factory=Counter)  # matching watchers still open, by url
    closed: Counter[str] = field(default_factory=Counter)
    last: float = 0.0

    def arrived(self, watcher: Watcher, record_id: str) -> None:
        now = time.monotonic()
        self.last = now
        if watcher.matches:
            self.arrivals[watcher.url][record_id].append(now)
        else:
            self.unexpected += 1

    def ended(self, watcher: Watcher, reason: str) -> None:
        self.closed[reason] += 1
        if watcher.matches:
            self.alive[watcher.url] -= 1


async def _watch_minibase(
    state: _State, watcher: Watcher, ready: asyncio.Future[None], gate: asyncio.Semaphore
) -> None:
    plan = state.plan
    url = plan.urls[watcher.url].replace("http://", "ws://", 1) + "/api/realtime"
    query = plan.match_filter if watcher.matches else plan.miss_filter
    subscribe = {"type": "subscribe", "id": "w", "collection": plan.collection, "filter": query}
    async with gate:
        socket = await connect(
            url,
            additional_headers={"Authorization": plan.auth},
            max_size=None,
            max_queue=None,
            compression=None,
            ping_interval=None,
            open_timeout=120,
        )
        await socket.send(orjson.dumps(subscribe).decode())
        async for frame in socket:
            message = orjson.loads(frame)
            if message["type"] == "snapshot":
                break
            if message["type"] == "error":
                raise RuntimeError(f"subscribe refused: {message}")
    ready.set_result(None)
    try:
        async for frame in socket:
            message = orjson.loads(frame)
            if message["type"] == "change":
                state.arrived(watcher, message["doc"]["_id"])
        state.ended(watcher, "closed by the server")
    except ConnectionClosed as closed:
        state.ended(watcher, f"closed {closed.rcvd.code if closed.rcvd else 'abruptly'}")


def _topic(plan: WatchPlan, watcher: Watcher) -> str:
    query = plan.match_filter if watcher.matches else plan.miss_filter
    options = orjson.dumps({"query": {"filter": query}}).decode()
    return f"{plan.collection}?options={quote(options)}"


async def _watch_pocketbase(
    state: _State,
    watcher: Watcher,
    ready: asyncio.Future[None],
    gate: asyncio.Semaphore,
    http: httpx.AsyncClient,
) -> None:
    plan = state.plan
    base = plan.urls[watcher.url]
    topic = _topic(plan, watcher)
    await gate.acquire()
    try:
        async with http.stream("GET", base + "/api/realtime", timeout=None) as response:
            event, data = "", ""
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:]
                elif line.startswith("data:"):
                    data += line[5:]
                elif line == "" and event:
                    if event == "PB_CONNECT":
                        client_id = orjson.loads(data)["clientId"]
                        body = {"clientId": client_id, "subscriptions": [topic]}
                        answer = await http.post(
                            base + "/api/realtime", json=body, headers={"Authorization": plan.auth}
                        )
                        answer.raise_for_status()
                        gate.release()
                        ready.set_result(None)
                    elif event == topic:
                        state.arrived(watcher, orjson.loads(data)["record"]["id"])
                    event, data = "", ""
        state.ended(watcher, "closed by the server")
    except httpx.HTTPError as error:
        state.ended(watcher, type(error).__name__)
    finally:
        if not ready.done():
            gate.release()


async def _run(state: _State, watcher: Watcher, ready: asyncio.Future[None], *args: Any) -> None:
    watch = _watch_minibase if state.plan.kind == "minibase" else _watch_pocketbase
    try:
        await watch(state, watcher, ready, *args)
    except Exception as error:  # a failure to connect or subscribe: counted, the run goes on
        if not ready.done():
            ready.set_exception(error)
        else:
            state.ended(watcher, type(error).__name__)


def _tally(state: _State, acks: dict[str, tuple[float, float]], records: int) -> Tally:
    tally = Tally(unexpected=state.unexpected, last_arrival=state.last, closed=+state.closed)
    for url, arrivals in state.arrivals.items():
        tally.expected[url] = state.alive[url] * records
        histogram: Counter[int] = Counter()
        for record_id, (sent, acked) in acks.items():
            for arrived in arrivals.pop(record_id, ()):
                histogram[math.floor((arrived - acked) * BUCKET)] += 1
                tally.from_request[math.floor((arrived - sent) * BUCKET)] += 1
        tally.delivered[url] = histogram.total()
        tally.latency[url] = histogram
        tally.stray += sum(len(times) for times in arrivals.values())
        arrivals.clear()
    state.unexpected = 0
    state.closed.clear()
    return tally


async def _settle(state: _State, acks: dict[str, tuple[float, float]]) -> None:
    """Until every open matching watcher has every record, or arrivals stop."""
    began = time.monotonic()
    while time.monotonic() - began < MAX_WAIT:
        missing = sum(
            state.alive[url] * len(acks) - sum(len(arrivals.get(i, ())) for i in acks)
            for url, arrivals in state.arrivals.items()
        )
        if missing <= 0 or time.monotonic() - max(state.last, began) > QUIET:
            return
        await asyncio.sleep(0.1)


async def _serve(pipe: Connection, plan: WatchPlan) -> None:
    state = _State(plan)
    for url in range(len(plan.urls)):
        state.arrivals[url] = defaultdict(list)
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(CONNECTING)
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=CONNECTING)
    began = time.monotonic()
    async with httpx.AsyncClient(limits=limits, timeout=120) as http:
        extra = (http,) if plan.kind == "pocketbase" else ()
        readies = [loop.create_future() for _ in plan.watchers]
        tasks = [
            asyncio.create_task(_run(state, watcher, ready, gate, *extra))
            for watcher, ready in zip(plan.watchers, readies, strict=True)
        ]
        outcomes = await asyncio.gather(*readies, return_exceptions=True)
        failures = Counter(type(o).__name__ + f": {o}"[:160] for o in outcomes if o is not None)
        for watcher, outcome in zip(plan.watchers, outcomes, strict=True):
            if outcome is None and watcher.matches:
                state.alive[watcher.url] += 1
        pipe.send(
            (
                "ready",
                {
                    "connected": len(outcomes) - failures.total(),
                    "failed": dict(failures),
                    "seconds": time.monotonic() - began,
                },
            )
        )
        while True:
            command, acks = await loop.run_in_executor(None, pipe.recv)
            if command == "stop":
                break
            await _settle(state, acks)
            pipe.send(("tally", _tally(state, acks, len(acks))))
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


def watch(pipe: Connection, plan: WatchPlan) -> None:
    """A child process's main: hold the plan's watchers until told to stop."""
    asyncio.run(_serve(pipe, plan))

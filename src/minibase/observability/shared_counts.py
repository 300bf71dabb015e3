"""What the workers of one `minibase serve` counted, summed for a scrape of any one of them.

Each worker counts in memory (recording a request stays a few additions: no lock, no I/O) and
publishes a copy to its own file in the server's folder (server_folder.py, `metrics/`): once a
second when something changed, off the request path, when it stops, and at every scrape it
answers. The worker answering a scrape writes its own numbers first, then adds every other
worker's latest file to them. So a total never goes backwards whichever worker answers the next
scrape: a file only grows, is replaced whole (a temporary file, then `os.replace`), and what one
scrape reported is on disk before it answers.

The files of workers that exited stay until the server stops: their counts remain part of the
totals (a restarted worker writes a new file, named by its pid and a random token, so a reused
pid never overwrites a dead worker's). Their gauges (requests in flight, realtime sockets) no
longer count.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minibase.observability.platform_errors import ErrorKey
from minibase.observability.requests import BUCKETS, Histogram, RequestKey
from minibase.server_folder import process_alive

log = logging.getLogger("minibase.metrics")

FOLDER = "metrics"  # the subfolder of the server's folder that holds one file per worker
PUBLISH_EVERY = 1.0  # seconds between a worker's checks for new numbers to publish
_FORMAT = 1


@dataclass
class Counts:
    """What one worker counted, or several summed."""

    requests: dict[RequestKey, Histogram] = field(default_factory=dict)
    platform_errors: dict[ErrorKey, int] = field(default_factory=dict)
    gauges: dict[str, float] = field(default_factory=dict)  # this moment's: in flight, sockets

    def add(self, other: Counts, *, gauges: bool = True) -> None:
        for key, (counts, seconds) in other.requests.items():
            mine = self.requests.get(key)
            if mine is None:
                self.requests[key] = (counts.copy(), seconds)
            else:
                summed = [a + b for a, b in zip(mine[0], counts, strict=True)]
                self.requests[key] = (summed, mine[1] + seconds)
        for error, count in other.platform_errors.items():
            self.platform_errors[error] = self.platform_errors.get(error, 0) + count
        if gauges:
            for name, value in other.gauges.items():
                self.gauges[name] = self.gauges.get(name, 0) + value

    def encode(self) -> bytes:
        return json.dumps(
            {
                "format": _FORMAT,
                "requests": [
                    [*key, counts, seconds] for key, (counts, seconds) in self.requests.items()
                ],
                "platform_errors": [[*key, count] for key, count in self.platform_errors.items()],
                "gauges": self.gauges,
            },
            separators=(",", ":"),
        ).encode()


def decode(data: bytes) -> Counts:
    """The counts of a worker's file; ValueError if it is not one."""
    try:
        document = json.loads(data)
        if document["format"] != _FORMAT:
            raise ValueError(f"format {document['format']!r}")
        counts = Counts()
        for route, method, status, buckets, seconds in document["requests"]:
            if len(buckets) != len(BUCKETS) + 1:
                raise ValueError(f"{len(buckets)} buckets")
            key = (_text(route), _text(method), _text(status))
            counts.requests[key] = ([_whole(n) for n in buckets], _number(seconds))
        for platform, kind, errcode, count in document["platform_errors"]:
            counts.platform_errors[(_text(platform), _text(kind), _text(errcode))] = _whole(count)
        counts.gauges = {_text(name): _number(value) for name, value in document["gauges"].items()}
    except (KeyError, TypeError, AttributeError) as error:  # valid JSON, not our shape
        raise ValueError(repr(error)) from error
    return counts


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a string")
    return value


def _whole(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{value!r} is not a count")
    return value


def _number(value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    return float(value)


class SharedCounts:
    """One worker's file in its server's `metrics/` folder, and the sum of every worker's.

    `take` copies this worker's live numbers (on the event loop, where they are counted); `pid`
    is this worker's process (tests name another one)."""

    def __init__(self, folder: Path, take: Callable[[], Counts], pid: int | None = None) -> None:
        folder.mkdir(exist_ok=True)
        self.folder = folder
        self.pid = os.getpid() if pid is None else pid
        self.path = folder / f"{self.pid}-{secrets.token_hex(8)}.json"
        self._take = take
        self._lock = asyncio.Lock()  # one publish at a time: a file never holds older numbers
        self._published = b""
        self._read: dict[str, tuple[bytes, Counts]] = {}  # file name -> its last good text, counts
        self._unreadable: set[str] = set()  # files already logged as unreadable
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._publish_every(PUBLISH_EVERY))

    async def stop(self) -> None:
        """Publish a last time, as a worker that exited: its counts stay, its gauges go."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        async with self._lock:
            await self._publish(exiting=True)

    async def total(self) -> Counts:
        """Every worker's numbers summed: this one's as of now, the others' latest files."""
        async with self._lock:
            counts = await self._publish()
            for other, alive in await asyncio.to_thread(self._others):
                counts.add(other, gauges=alive)
        return counts

    async def publish(self) -> None:
        """Write this worker's numbers now, if they changed since the last write."""
        async with self._lock:
            await self._publish()

    async def _publish_every(self, seconds: float) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await self.publish()
            except Exception:  # a bug here must not end the publishing, nor the worker's stop
                log.exception("could not publish this worker's metrics")

    async def _publish(self, *, exiting: bool = False) -> Counts:
        """Write this worker's numbers if they changed since the last write; the numbers."""
        counts = self._take()
        if exiting:
            counts.gauges = {}
        data = counts.encode()
        if data != self._published:
            try:
                await asyncio.to_thread(self._write, data)
                self._published = data
            except OSError as error:  # a full disk; the folder gone as the server stops
                log.warning("could not publish this worker's metrics to %s: %s", self.path, error)
        return counts

    def _write(self, data: bytes) -> None:
        temporary = self.path.with_suffix(".tmp")  # not *.json: never read half-written
        temporary.write_bytes(data)
        os.replace(temporary, self.path)

    def _others(self) -> list[tuple[Counts, bool]]:
        """The other workers' latest counts, each with whether its worker still runs."""
        found = []
        for path in self.folder.glob("*.json"):
            if path != self.path:
                counts = self._read_file(path)
                if counts is not None:
                    found.append((counts, _running(path, self.pid)))
        return found

    def _read_file(self, path: Path) -> Counts | None:
        """A worker's counts; the last good ones if its file is unreadable now (a total must
        not drop), None if it never was readable."""
        name = path.name
        last = self._read.get(name)
        try:
            data = path.read_bytes()
            if last is not None and last[0] == data:
                return last[1]  # unchanged (an exited worker's file): decoded once
            counts = decode(data)
        except (OSError, ValueError) as error:
            if name not in self._unreadable:
                self._unreadable.add(name)
                log.warning("skipped the unreadable metrics file %s: %s", path, error)
            return last[1] if last is not None else None
        self._read[name] = (data, counts)
        return counts


def _running(path: Path, ours: int) -> bool:
    """Does the worker that wrote this file still run? Its name starts with its pid."""
    try:
        pid = int(path.name.split("-", 1)[0])
    except ValueError:
        return False
    if pid == ours:  # that's us, but not our file: an exited worker had our pid
        return False
    return process_alive(pid)

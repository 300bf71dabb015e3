"""The request rate limits' counters shared by the worker processes of one `minibase serve`
without Redis: a fixed-size table in a file of the server's folder, that every worker maps.

A hit locks the file (`flock`), updates the counters of its keys in place and unlocks: a few
microseconds, so it runs on the event loop; a worker that finds the file locked waits in the
kernel, which wakes it as soon as the lock is released.

The table has a fixed number of slots of 32 bytes: a key's 16-byte BLAKE2b digest, its count
and its window's end. A key lives in one of `PROBE` consecutive slots after the one its digest
picks. A slot whose window has ended is free; when none of a key's slots is free, the one whose
window ends first is taken (evicted): under a flood of distinct keys, an evicted key starts a
new window at its next request. The table's size bounds the file and its memory, whatever
clients send.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import mmap
import os
import struct
from collections.abc import Sequence
from pathlib import Path

from minibase.auth.throttle import Counted

log = logging.getLogger("minibase.rate_limits")

MAGIC = b"minibase-rate-limits-v1\0"  # 24 bytes, then the slot count (8 bytes)
HEADER = struct.Struct("<24sQ")
SLOT = struct.Struct("<16sQd")  # key digest, count, window end (unix seconds)
PROBE = 16  # slots a key may live in: 512 bytes, read in one go
ENDS = struct.Struct("<" + "24xd" * PROBE)  # the window ends of a key's slots
SLOTS = 65_536  # 2 MiB: far more keys than the windows of one server's clients hold at once


class FileCounterStore:
    """Opened by each worker on the same file: they all count in one table."""

    def __init__(self, path: Path, slots: int = SLOTS) -> None:
        if slots < PROBE:
            raise ValueError(f"a counter table needs at least {PROBE} slots")
        self.path = path
        self.slots = slots
        self.evictions = 0  # keys this process pushed out of a full neighbourhood
        self._size = HEADER.size + slots * SLOT.size
        self._starts = slots - PROBE + 1  # a key's first slot: its PROBE slots never wrap
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            with _Locked(self._fd):
                self._ensure_table()
            self._map = mmap.mmap(self._fd, self._size)
        except BaseException:
            os.close(self._fd)
            raise

    async def hit(self, keys: Sequence[tuple[str, int]], now: float) -> list[Counted]:
        """One more for each (key, window seconds), a new window if none is running."""
        digests = [hashlib.blake2b(key.encode(), digest_size=16).digest() for key, _ in keys]
        with _Locked(self._fd):
            if not self._intact():
                self._ensure_table()
            return [
                self._count(digest, window, now)
                for digest, (_, window) in zip(digests, keys, strict=True)
            ]

    async def close(self) -> None:
        self._map.close()
        os.close(self._fd)

    def _count(self, digest: bytes, window: int, now: float) -> Counted:
        start = HEADER.size + int.from_bytes(digest[:8], "little") % self._starts * SLOT.size
        end = start + PROBE * SLOT.size
        found = self._map.find(digest, start, end)
        while found != -1 and (found - start) % SLOT.size:  # a digest split across two slots
            found = self._map.find(digest, found + 1, end)
        if found != -1:
            _, count, window_end = SLOT.unpack_from(self._map, found)
            if window_end > now:
                counted = Counted(count + 1, window_end)
                SLOT.pack_into(self._map, found, digest, counted.failures, window_end)
                return counted
        else:
            # an ended window (or an empty slot: 0.0) is free; else the first to end is evicted
            ends = ENDS.unpack_from(self._map, start)
            slot = min(range(PROBE), key=ends.__getitem__)
            if ends[slot] > now:
                self._evicted()
            found = start + slot * SLOT.size
        counted = Counted(1, now + window)
        SLOT.pack_into(self._map, found, digest, 1, counted.window_end)
        return counted

    def _evicted(self) -> None:
        if not self.evictions:
            log.warning(
                "the rate-limit counter table %s is full where new keys land: keys whose window"
                " ends first are dropped (and start a new window at their next request)",
                self.path,
            )
        self.evictions += 1

    def _intact(self) -> bool:
        """The file still has its size and header (nothing outside minibase changed it)."""
        return os.fstat(self._fd).st_size == self._size and HEADER.unpack_from(self._map) == (
            MAGIC,
            self.slots,
        )

    def _ensure_table(self) -> None:
        """Under the lock: keep a table that fits, else make a new, empty one (counts lost)."""
        size = os.fstat(self._fd).st_size
        if size == self._size and os.pread(self._fd, HEADER.size, 0) == HEADER.pack(
            MAGIC, self.slots
        ):
            return
        if size:
            log.warning(
                "the rate-limit counter table %s was not one of %d slots (%d bytes): made anew,"
                " its counts start again from zero",
                self.path,
                self.slots,
                size,
            )
        # zeros written, not a sparse file: a full disk fails here, not in a mapped page
        os.pwrite(self._fd, HEADER.pack(MAGIC, self.slots) + bytes(self._size - HEADER.size), 0)
        os.ftruncate(self._fd, self._size)


class _Locked:
    """The file's exclusive lock, for a `with` block."""

    def __init__(self, fd: int) -> None:
        self._fd = fd

    def __enter__(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

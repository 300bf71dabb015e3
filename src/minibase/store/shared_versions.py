"""News that a cached table changed, between the worker processes of one `minibase serve`.

Every process caches the collections' definitions, the revocations, the apps and the merchants,
and reads one again when its counter in `meta` moves (store/versions.py), looking at that
counter at most once a second: another instance may go on with an old rule for up to a second.
The workers of one server must do better: a client that creates a collection through one
worker and writes to it through the other a moment later has to find it, and a rule tightened
must hold at once everywhere.

So a change also advances a counter in a small file of the server's folder, once its
transaction has committed and before its request answers. Every worker maps that file and
reads its counter each time it uses its cache (a read of memory), and reads the table again the
moment the counter moved. Outside `minibase serve` there is no such file and nothing changes.
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from minibase.server_folder import server_folder
from minibase.store.database import Connection

log = logging.getLogger("minibase.store")

FILE = "versions"
SLOTS = 64  # one 8-byte counter each; two keys in one slot only cost an extra read
_SIZE = SLOTS * 8
_COUNTER = struct.Struct("<Q")


def _slot(key: str) -> int:
    return zlib.crc32(key.encode()) % SLOTS * 8


@contextmanager
def _locked(path: Path) -> Iterator[int]:
    """The file open and locked, made full size (zeros) if new or short; closed after."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.fstat(fd).st_size != _SIZE:
                os.ftruncate(fd, _SIZE)
            yield fd
        finally:
            # let go explicitly: a mapping made meanwhile keeps a copy of the descriptor
            # open, and with it the lock, after this one closes
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class SharedVersions:
    """One process's view of the counters of its server's workers."""

    def __init__(self, path: Path) -> None:
        with _locked(path) as fd:
            self._map = mmap.mmap(fd, _SIZE, prot=mmap.PROT_READ)  # stays once the file closes

    @classmethod
    def of_this_server(cls) -> SharedVersions | None:
        folder = server_folder()
        return None if folder is None else cls(folder / FILE)

    @staticmethod
    def slot(key: str) -> int:
        """Where `key`'s counter is: for `read_slot`, read on every request (the key's hash,
        worked out once)."""
        return _slot(key)

    def read_slot(self, slot: int) -> int:
        count: int = _COUNTER.unpack_from(self._map, slot)[0]
        return count


def advance(path: Path, key: str) -> None:
    """One more change of `key`, told to every worker of the server."""
    with _locked(path) as fd:
        at = _slot(key)
        (count,) = _COUNTER.unpack(os.pread(fd, 8, at))
        os.pwrite(fd, _COUNTER.pack(count + 1), at)


def tell_workers_after_commit(conn: Connection, key: str) -> None:
    """In a change's transaction: once it commits, the server's other workers hear of it."""
    folder = server_folder()
    if folder is not None:
        conn.after_commit(partial(_advance_or_log, folder / FILE, key))


def _advance_or_log(path: Path, key: str) -> None:
    try:
        advance(path, key)
    except OSError:  # the others still notice within their check interval
        log.warning("telling the other workers of a change of %s failed", key, exc_info=True)

"""News of commits among the processes on one SQLite database file, with no server between
them: the workers of one `minibase serve --workers N`, a `minibase worker`, a script.

A process that wants the news (its realtime hub reads the change log for subscribers) listens
on a UNIX datagram socket in the database's folder of sockets; a process that committed sends a
datagram to every socket there. The sender never waits: a receiver whose queue is full already
has news waiting, and a datagram lost costs its receiver at most its next read by interval.

The folder is in the temp directory, named by a hash of the database's real path (every
process finds the same one, however it named the file), and not beside the database: a
socket's path must fit in ~104 bytes, whatever the data directory's. It is the owner's alone
(0700, checked before each use). A socket left by a process that died is removed by the first
sender that finds nobody behind it; a process removes its own when it closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import socket
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("minibase.store")

MAX_SOCKET_PATH = 100  # bytes of a socket's path: 108 fit on Linux, 104 on macOS, with a NUL
NAME_BYTES = 20  # "/<pid>-<8 hex>" with room to spare
NEWS = b"c"  # the datagram: its arrival is the news
DRAIN_AT_MOST = 64  # datagrams read per wake-up: a flood cannot hold the event loop


def available() -> bool:
    """Can processes here tell each other over UNIX datagram sockets? (Not on Windows.)"""
    return sys.platform != "win32" and hasattr(socket, "AF_UNIX")


def sockets_folder(database: Path) -> Path:
    """The folder of the listening processes on this database file."""
    real = os.fsencode(os.path.realpath(database))
    name = "minibase-" + hashlib.sha256(real).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / name
    if len(os.fsencode(folder)) + NAME_BYTES > MAX_SOCKET_PATH:  # a long TMPDIR
        folder = Path("/tmp") / name  # noqa: S108 - 0700 and ours, checked before each use
    return folder


class Siblings:
    """This process's part among the processes on one database file: `tell` them of a commit;
    `listen` to hear of theirs."""

    def __init__(self, database: Path) -> None:
        self.folder = sockets_folder(database)
        self.address: Path | None = None  # this process's socket, while it listens
        self._listener: socket.socket | None = None
        # a sending socket per receiver: a datagram counts against its sender's buffer until
        # it is read, so one receiver that reads nothing must not fill the buffer of all
        self._senders: dict[str, socket.socket] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._warned = False
        self._closed = False

    def listen(self, heard: Callable[[], None]) -> bool:
        """From now on, call `heard` on the running loop whenever another process tells of a
        commit. False if the folder cannot be used: then news comes only by interval."""
        if self._listener is not None or self._closed:
            return self._listener is not None
        address = self.folder / f"{os.getpid()}-{secrets.token_hex(4)}"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            # twice: the last process out may remove the empty folder between mkdir and bind
            for attempt in range(2):
                with contextlib.suppress(FileExistsError):
                    os.mkdir(self.folder, 0o700)
                if not self._folder_is_private():
                    listener.close()
                    return False
                try:
                    listener.bind(os.fspath(address))
                    break
                except FileNotFoundError:
                    if attempt:
                        raise
        except OSError as error:
            listener.close()
            log.warning("cannot listen for other processes' commits in %s: %s", self.folder, error)
            return False
        listener.setblocking(False)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(listener.fileno(), self._drain, listener, heard)
        self._listener, self.address = listener, address
        return True

    def tell(self) -> None:
        """Tell every other listening process of a commit: a datagram each, never waiting."""
        if self._closed:
            return
        try:
            names = os.listdir(self.folder)
        except FileNotFoundError:
            return  # nobody listens
        if not names or not self._folder_is_private():
            return
        own = None if self.address is None else self.address.name
        for name in names:
            if name != own:
                self._tell_one(name)
        for gone in self._senders.keys() - names:
            self._senders.pop(gone).close()

    def _tell_one(self, name: str) -> None:
        sender = self._senders.get(name)
        if sender is None:
            sender = self._senders[name] = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sender.setblocking(False)
        path = os.path.join(self.folder, name)
        try:
            sender.sendto(NEWS, path)
        except BlockingIOError:
            pass  # its queue is full: it has news waiting already
        except (ConnectionRefusedError, FileNotFoundError):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)  # nobody behind it: its process died without closing
            with contextlib.suppress(OSError):  # it was the last: no empty folder stays
                os.rmdir(self.folder)
        except OSError as error:
            log.debug("telling %s of a commit failed: %s", path, error)

    def close(self) -> None:
        """Stop listening and remove this process's socket (and the folder, if it was the
        last one: no empty folders build up in the temp directory)."""
        self._closed = True
        if self._listener is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None
        if self.address is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.address)
            with contextlib.suppress(OSError):  # not empty: others still listen
                os.rmdir(self.folder)
            self.address = None
        for sender in self._senders.values():
            sender.close()
        self._senders.clear()

    @staticmethod
    def _drain(listener: socket.socket, heard: Callable[[], None]) -> None:
        for _ in range(DRAIN_AT_MOST):  # many datagrams, one piece of news
            try:
                listener.recv(16)
            except OSError:  # BlockingIOError: read them all
                break
        heard()

    def _folder_is_private(self) -> bool:
        """Is the folder a directory of this user's alone? (In a shared temp directory,
        another user could have made one of that name first.)"""
        try:
            found = os.lstat(self.folder)
        except FileNotFoundError:
            return False
        private = (
            stat.S_ISDIR(found.st_mode)
            and found.st_uid == os.getuid()
            and not found.st_mode & 0o077
        )
        if not private and not self._warned:
            self._warned = True
            log.warning(
                "%s is not this user's private folder: processes on this database learn of"
                " each other's commits only by interval (realtime_poll_interval)",
                self.folder,
            )
        return private

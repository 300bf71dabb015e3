"""The folder that the worker processes of one `minibase serve` share.

`minibase serve --workers N` runs N processes that answer on one port. What they must agree on
without Redis lives in this folder: the drain's flag (observability/draining.py), and the files
through which they share their rate-limit counters and their metrics. (News of commits is not
here: a `minibase worker` on the same database needs it too, so store/siblings.py keys it on
the database file.) The server's main process makes it (a private temporary folder) before
the workers start and names it in the environment they inherit; it removes it when the server
stops. A server that could not (killed with SIGKILL) leaves it behind, with its process id in
it: the next server to start removes it. Outside `minibase serve` (tests, `minibase worker`,
an app mounted by hand) there is none.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

SERVER_FOLDER = "MINIBASE_SERVER_FOLDER"  # the environment variable naming the folder
PREFIX = "minibase-server-"
OWNER = "server.pid"  # the main process's id, in the folder


def server_folder() -> Path | None:
    """This server's shared folder, or None outside `minibase serve`."""
    named = os.environ.get(SERVER_FOLDER)
    return Path(named) if named else None


class ServerFolder:
    """Owned by `minibase serve`'s main process: made, and named in the environment, before
    the workers start; removed by `close`."""

    def __init__(self) -> None:
        remove_abandoned(Path(tempfile.gettempdir()))
        self.path = Path(tempfile.mkdtemp(prefix=PREFIX))  # mode 0700
        (self.path / OWNER).write_text(str(os.getpid()))
        os.environ[SERVER_FOLDER] = str(self.path)

    def close(self) -> None:
        if os.environ.get(SERVER_FOLDER) == str(self.path):
            del os.environ[SERVER_FOLDER]
        shutil.rmtree(self.path, ignore_errors=True)


def remove_abandoned(temp: Path) -> None:
    """The folders of servers that ended without removing theirs (killed with SIGKILL, the
    machine lost power): those of this user whose main process is gone."""
    for folder in temp.glob(PREFIX + "*"):
        try:
            if folder.stat().st_uid != os.getuid():
                continue
            pid = int((folder / OWNER).read_text())
        except (OSError, ValueError):  # being made right now, or not one of ours
            continue
        if not process_alive(pid):
            shutil.rmtree(folder, ignore_errors=True)


def process_alive(pid: int) -> bool:
    """Does a process of this id run (this user's or another's)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process has that id now
        return True
    return True

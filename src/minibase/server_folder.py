"""The folder that the worker processes of one `minibase serve` share.

`minibase serve --workers N` runs N processes that answer on one port. What they must agree on
without Redis lives in this folder: the drain's flag (observability/draining.py), and the files
through which they share their rate-limit counters and their metrics. (News of commits is not
here: a `minibase worker` on the same database needs it too, so store/siblings.py keys it on
the database file.) The server's main process makes it (a private temporary folder) before
the workers start and names it in the environment they inherit; it removes it when the server
stops. Outside `minibase serve` (tests, `minibase worker`, an app mounted by hand) there is
none.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

SERVER_FOLDER = "MINIBASE_SERVER_FOLDER"  # the environment variable naming the folder


def server_folder() -> Path | None:
    """This server's shared folder, or None outside `minibase serve`."""
    named = os.environ.get(SERVER_FOLDER)
    return Path(named) if named else None


class ServerFolder:
    """Owned by `minibase serve`'s main process: made, and named in the environment, before
    the workers start; removed by `close`."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="minibase-server-"))  # mode 0700
        os.environ[SERVER_FOLDER] = str(self.path)

    def close(self) -> None:
        if os.environ.get(SERVER_FOLDER) == str(self.path):
            del os.environ[SERVER_FOLDER]
        shutil.rmtree(self.path, ignore_errors=True)

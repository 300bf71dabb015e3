"""The data directory and its files are the owner's alone: 0700 and 0600.

They hold every record, refresh-token digest and sealed secret, and the master key that unseals
them. What minibase creates is private from the start; what an older version (or a copy) left
readable by others is tightened at start, with a warning saying what was changed.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger("minibase.store")

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
_OTHERS = 0o077  # group and world bits


def make_private_dir(path: Path) -> None:
    """Create the directory (0700) if it is missing, or tighten it if others can read it."""
    if path.exists():
        _tighten(path, DIRECTORY_MODE)
        return
    path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    _tighten(path, DIRECTORY_MODE)  # parents=True ignores mode for parents, not for the leaf


def secure_data_dir(path: Path) -> None:
    """At start: the data directory 0700 and every file directly in it 0600, if it exists
    (it is created private when first needed)."""
    if not path.is_dir():
        return
    _tighten(path, DIRECTORY_MODE)
    for entry in path.iterdir():
        if entry.is_file() and not entry.is_symlink():
            _tighten(entry, FILE_MODE)


def make_private_file(path: Path) -> None:
    """Create an empty file (0600) if it is missing, or tighten it if others can read it."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        _tighten(path, FILE_MODE)


def tighten_existing(path: Path) -> None:
    """A file that may exist (a WAL left from the last run): 0600 if it does."""
    if path.exists():
        _tighten(path, FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    current = stat.S_IMODE(path.stat().st_mode)
    if current & _OTHERS:
        os.chmod(path, mode)
        log.warning(
            "%s was open to other users (mode %s); it is now %s",
            path,
            oct(current)[2:].zfill(4),
            oct(mode)[2:].zfill(4),
        )

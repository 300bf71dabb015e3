"""Bounded memory for what is worked out again and again (statements, parsed queries, verified
tokens): a plain dict, cleared whole when it is full.

Clearing whole costs one miss for each entry still in use, once; it needs no order kept on
each hit, so a hit stays one dictionary lookup.
"""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember(kept: dict[K, V], key: K, value: V, most: int) -> V:
    """Keep `value` under `key` in `kept`, which never holds more than `most` entries."""
    if len(kept) >= most:
        kept.clear()
    kept[key] = value
    return value

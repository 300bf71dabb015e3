"""JSON from a client (a body, the `filter` parameter): orjson, with integers kept to 64 bits
and strings without the NUL character.

orjson reads an integer beyond 2^64 as a float, rounding it, and one of 2^63..2^64-1 as an int
that neither SQLite nor PostgreSQL stores; both need at least 19 digits. So a text with a run
of 19 digits is read once more, by the standard library with an exact `parse_int`, to find
such an integer and where it is. Other texts pay one `bytes.translate` and one substring search
(a fraction of orjson's own time; a regex search costs several times more).

PostgreSQL cannot store NUL in text, so no string may hold it, on either engine. JSON can only
carry it escaped, so a text without `\\u0000` has none; one with it is walked to name where.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson

from minibase.errors import ApiError

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT64_MESSAGE = "integers must fit in 64 bits (-2^63 to 2^63-1); send larger ones as strings"
NUL_MESSAGE = "strings cannot hold the NUL character (\\u0000)"

_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19
_INT64_DIGITS = 19  # JSON has no leading zeros: 20 digits are at least 10^19 > 2^63


class _Outside:
    """An integer literal outside 64 bits, kept as text where it stood."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def parse_client_json(raw: bytes | str) -> Any:
    """The value, or orjson.JSONDecodeError (not JSON), or ApiError
    `request.integer_out_of_range` naming the path of an integer outside signed 64 bits, or
    `request.nul_character` naming the string that holds NUL."""
    value = orjson.loads(raw)  # syntax, UTF-8, NaN and nesting are refused here first
    data = raw.encode() if isinstance(raw, str) else raw
    if _LONG_NUMBER in data.translate(_DIGITS_AS_ZERO):
        found = _integer_outside(data)
        if found is not None:
            path, text = found
            where = f"{path}: " if path else ""
            raise ApiError(
                "request.integer_out_of_range",
                400,
                f"{where}{INT64_MESSAGE}",
                {"path": path, "value": text[:40]},
            )
    if b"\\u0000" in data:
        holder = _nul_at(value)
        if holder is not None:
            raise nul_character(holder)
    return value


def nul_character(path: str) -> ApiError:
    where = f"{path}: " if path else ""
    return ApiError("request.nul_character", 400, f"{where}{NUL_MESSAGE}", {"path": path})


def _nul_at(value: Any) -> str | None:
    """The dotted path of the first string (or key) holding NUL, or None."""
    found = _first(value, lambda node: isinstance(node, str) and "\x00" in node)
    return None if found is None else found[0].replace("\x00", "\\u0000")


def _first(value: Any, wanted: Callable[[Any], bool]) -> tuple[str, Any] | None:
    """(dotted path, node) of the first node, or object key, that is `wanted`, in document
    order."""
    pending: list[tuple[Any, str]] = [(value, "")]
    while pending:
        node, path = pending.pop()
        if wanted(node):
            return path, node
        if isinstance(node, dict):
            children = list(node.items())
        elif isinstance(node, list):
            children = list(enumerate(node))
        else:
            continue
        prefix = f"{path}." if path else ""
        for key, _ in children:
            if wanted(key):
                return f"{prefix}{key}", key
        pending.extend((child, f"{prefix}{key}") for key, child in reversed(children))
    return None


def _exact_int(text: str) -> int | _Outside:
    digits = len(text) - text.startswith("-")
    if digits < _INT64_DIGITS:
        return int(text)
    if digits > _INT64_DIGITS:
        return _Outside(text)
    value = int(text)
    return value if INT64_MIN <= value <= INT64_MAX else _Outside(text)


def _integer_outside(data: bytes) -> tuple[str, str] | None:
    """(dotted path, literal) of the first integer outside 64 bits in document order."""
    try:
        value = json.loads(data, parse_int=_exact_int)
    except RecursionError:  # deeper than the interpreter allows (orjson allows 1024 levels)
        raise orjson.JSONDecodeError("nested too deeply", data.decode(), 0) from None
    found = _first(value, lambda node: isinstance(node, _Outside))
    return None if found is None else (found[0], found[1].text)

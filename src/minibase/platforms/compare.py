"""Comparing a signature a client sent with the one expected, in constant time.

`hmac.compare_digest` raises TypeError on a str with a non-ASCII character, and a client may
send any: both sides are compared as UTF-8 bytes instead.
"""

from __future__ import annotations

import hmac


def same_text(expected: str, given: str) -> bool:
    return hmac.compare_digest(_utf8(expected), _utf8(given))


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")

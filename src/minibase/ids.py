"""The one id generator: time-ordered, url-safe ids (ULID layout, lowercase Crockford base32).

Ordered ids keep `_id` a stable tie-breaker for cursor pagination and make the default
list order the creation order.
"""

from __future__ import annotations

import os
import threading

from minibase.clock import Clock

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


_RANDOM_BATCH = 640  # bytes of randomness read at once: 64 ids' worth, one system call


class IdGenerator:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0
        self._random = b""  # from os.urandom, used 10 bytes an id (under the lock)
        os.register_at_fork(after_in_child=self._forget_random)  # never the parent's bytes

    def _forget_random(self) -> None:
        self._random = b""

    def new(self) -> str:
        ms = int(self._clock.timestamp() * 1000)
        with self._lock:
            if ms <= self._last_ms:
                # Same millisecond (or a clock that went back): stay monotonic.
                ms = self._last_ms
                rand = self._last_random + 1
            else:
                if not self._random:
                    self._random = os.urandom(_RANDOM_BATCH)
                rand = int.from_bytes(self._random[:10], "big") >> 1
                self._random = self._random[10:]
            self._last_ms, self._last_random = ms, rand
        value = (ms << 80) | (rand & ((1 << 80) - 1))
        return _encode128(value)

    @staticmethod
    def token(nbytes: int = 32) -> str:
        """An unguessable random string (refresh tokens, nonces)."""
        return _encode(int.from_bytes(os.urandom(nbytes), "big"), (nbytes * 8 + 4) // 5)


# Two characters per 10 bits; the alphabet is in ascending ASCII order, so ids sort as numbers.
_PAIRS = tuple(a + b for a in _ALPHABET for b in _ALPHABET)


def _encode128(value: int) -> str:
    """26 characters for 128 bits, most significant first (two leading zero bits)."""
    pairs = _PAIRS
    return "".join([pairs[(value >> shift) & 1023] for shift in range(120, -1, -10)])


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))

"""RSA key pairs for tests, made once per test process and name: making one takes ~70 ms
and loading its private key ~50 ms more, while a test needs only that its merchant's or
app's keys are its own (two names never share a pair)."""

from __future__ import annotations

import functools

from minibase.platforms import rsa


@functools.cache
def keypair(name: str) -> tuple[str, str]:
    """(private key PEM, public key PEM) of `name`: the same pair every time it is asked."""
    return rsa.generate_keypair()

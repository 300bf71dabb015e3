from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sandbox.notify_receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A merchant's notify_url on 127.0.0.1, recording what the sandbox delivers (the
    sandbox's tests and the peer SDKs' use it)."""
    server = Receiver()
    yield server
    server.close()

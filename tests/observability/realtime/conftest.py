"""The realtime tests' server on a port of the test's own, and their socket client."""

from tests.realtime.conftest import (  # noqa: F401 (fixtures, used by name)
    clock,
    connect,
    port,
    server,
    services,
    settings,
)

"""Failed platform calls, counted by platform, kind and the platform's own errcode.

The gateway wraps every SDK client it hands out (`CountedClient`), so each call that raises a
PlatformError is counted once, whoever catches it. Errcodes are the platforms' documented codes
(a bounded set); a call that got no answer counts under kind `unavailable` with errcode `""`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from minibase.observability.exposition import Family
from minibase.platforms import PlatformError

ErrorKey = tuple[str, str, str]  # platform, kind, errcode


class PlatformErrors:
    def __init__(self) -> None:
        self._counts: dict[ErrorKey, int] = {}

    def count(self, error: PlatformError) -> None:
        errcode = "" if error.errcode is None else str(error.errcode)
        key = (error.platform, error.kind, errcode)
        self._counts[key] = self._counts.get(key, 0) + 1

    def counts(self) -> dict[ErrorKey, int]:
        """A copy of this process's counts as they are now."""
        return self._counts.copy()


def platform_error_families(counts: Mapping[ErrorKey, int]) -> list[Family]:
    family = Family(
        "minibase_platform_errors_total",
        "counter",
        "Platform calls that failed, by platform, kind (docs/errors.md) and the platform's errcode",
    )
    for (platform, kind, errcode), count in sorted(counts.items()):
        family.add(count, (("platform", platform), ("kind", kind), ("errcode", errcode)))
    return [family]


class CountedClient:
    """An SDK client whose calls (its coroutine methods) count their PlatformErrors; every
    other attribute is the client's own."""

    def __init__(self, client: Any, errors: PlatformErrors) -> None:
        self._client = client
        self._errors = errors

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute
        counted = self._counted(attribute)
        setattr(self, name, counted)  # wrapped once per client and method
        return counted

    def _counted(self, call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        errors = self._errors

        @functools.wraps(call)
        async def counted(*args: Any, **kwargs: Any) -> Any:
            try:
                return await call(*args, **kwargs)
            except PlatformError as error:
                errors.count(error)
                raise

        return counted

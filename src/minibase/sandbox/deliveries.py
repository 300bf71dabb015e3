"""How the payment gateways deliver a notification on purpose: `times` rounds one after the
other, `concurrent` copies at once in each round, and switches that break every copy in a way
the receiver must refuse (each gateway declares its own as boolean fields)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

from minibase.sandbox.errors import SandboxError

MAX_COPIES = 100


class Options(Protocol):
    @property
    def times(self) -> int: ...

    @property
    def concurrent(self) -> int: ...


D = TypeVar("D", bound=Options)


def _invalid(message: str) -> SandboxError:
    return SandboxError("sandbox.invalid_request", 400, message)


def delivery_from_json(kind: type[D], options: Mapping[str, Any] | None) -> D:
    """The options of `kind` (a dataclass) found in `options`, other keys ignored; a bad
    one is a 400."""
    if options is None:
        return kind()
    if not isinstance(options, Mapping):
        raise _invalid("the delivery options must be a JSON object")
    values: dict[str, Any] = {}
    for field in dataclasses.fields(kind):  # type: ignore[arg-type]
        value = options.get(field.name)
        if value is None:
            continue
        if isinstance(field.default, bool):
            if not isinstance(value, bool):
                raise _invalid(f"{field.name} must be true or false")
        elif isinstance(value, bool) or not isinstance(value, int):
            raise _invalid(f"{field.name} must be an integer")
        values[field.name] = value
    delivery = kind(**values)
    if not 0 <= delivery.times <= MAX_COPIES or not 1 <= delivery.concurrent <= MAX_COPIES:
        raise _invalid(f"times must be 0..{MAX_COPIES} and concurrent 1..{MAX_COPIES}")
    return delivery

"""The decorators users put on their functions, and what they declare.

    from minibase.functions import function, before, after, schedule, job, price, paid, push

    @function(auth="user", timeout=5, schema={"title": {"type": "string", "required": True}})
    async def publish(ctx, input): ...

The decorators only attach a declaration to the function; the loader finds them when it loads
the functions folder. Nothing is registered globally at import time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
ATTRIBUTE = "__minibase_declarations__"
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
ACTIONS = ("create", "update", "delete")
Access = Literal["user", "admin", "public"]


@dataclass(frozen=True)
class Declaration:
    kind: Literal["function", "before", "after", "schedule", "job", "price", "paid", "push"]
    options: Mapping[str, Any] = field(default_factory=dict)


def _declare(handler: F, declaration: Declaration) -> F:
    declared = list(getattr(handler, ATTRIBUTE, ()))
    declared.append(declaration)
    setattr(handler, ATTRIBUTE, tuple(declared))
    return handler


def declarations(handler: Any) -> tuple[Declaration, ...]:
    found: tuple[Declaration, ...] = getattr(handler, ATTRIBUTE, ())
    return found


def function(
    name: str | None = None,
    *,
    auth: Access = "user",
    timeout: float = 10.0,
    schema: Mapping[str, Any] | None = None,
    additional: bool = True,
) -> Callable[[F], F]:
    """A cloud function: `POST /api/functions/{name}` calls `handler(ctx, input)`.

    auth: "user" (a user token), "admin" (an admin token) or "public" (anyone).
    schema: field declarations as in a collection; the input is validated (and defaults applied)
    before the function runs, and `additional=False` refuses undeclared fields.
    """
    options = {
        "name": name,
        "auth": auth,
        "timeout": timeout,
        "schema": schema,
        "additional": additional,
    }
    return lambda handler: _declare(handler, Declaration("function", options))


def _hook(
    kind: Literal["before", "after"], collection: str, actions: tuple[str, ...], timeout: float
) -> Callable[[F], F]:
    options = {"collection": collection, "actions": actions or ACTIONS, "timeout": timeout}
    return lambda handler: _declare(handler, Declaration(kind, options))


def before(collection: str, *actions: str, timeout: float = 5.0) -> Callable[[F], F]:
    """Runs `handler(ctx, event)` inside the record's transaction, before the write: it may change
    `event.record` or refuse the write by raising ApiError. Actions default to all three."""
    return _hook("before", collection, actions, timeout)


def after(collection: str, *actions: str, timeout: float = 60.0) -> Callable[[F], F]:
    """Runs `handler(ctx, event)` after the write commits, as a durable job (retried on error)."""
    return _hook("after", collection, actions, timeout)


def schedule(
    cron: str, *, name: str | None = None, tz: str = "UTC", timeout: float = 300.0
) -> Callable[[F], F]:
    """Runs `handler(ctx)` on a cron schedule ("0 3 * * *"), once per occurrence across every
    process and instance."""
    options = {"cron": cron, "name": name, "tz": tz, "timeout": timeout}
    return lambda handler: _declare(handler, Declaration("schedule", options))


def job(
    name: str | None = None, *, timeout: float = 300.0, max_attempts: int = 10
) -> Callable[[F], F]:
    """Handles the jobs enqueued under `name` with `ctx.jobs.enqueue(name, payload)`:
    `handler(ctx, payload)`."""
    options = {"name": name, "timeout": timeout, "max_attempts": max_attempts}
    return lambda handler: _declare(handler, Declaration("job", options))


def price(*, timeout: float = 5.0) -> Callable[[F], F]:
    """Prices what a user buys: `handler(ctx, product, input)` runs when `POST /api/pay/orders`
    creates an order and returns `{"amount": fen, "description": "..."}` (or raises ApiError,
    e.g. for an unknown product). With a price hook the client can never choose the amount."""
    return lambda handler: _declare(handler, Declaration("price", {"timeout": timeout}))


def paid(*, timeout: float = 60.0, max_attempts: int = 10) -> Callable[[F], F]:
    """Fulfils a paid order: `handler(ctx, order)` runs once per paid order as a durable job,
    retried with backoff when it raises. `ctx.transaction()` with `tx.complete_job()` makes its
    writes and the job's success one commit."""
    options = {"timeout": timeout, "max_attempts": max_attempts}
    return lambda handler: _declare(handler, Declaration("paid", options))


def push(
    msg_type: str | None = None,
    *,
    event: str | None = None,
    reply: bool = False,
    timeout: float | None = None,
    max_attempts: int = 10,
) -> Callable[[F], F]:
    """Handles WeChat's message pushes: `handler(ctx, message)` for each message whose MsgType
    is `msg_type` (and whose Event is `event`: `@push(event="...")` means MsgType "event");
    `@push()` takes every message. `message` is the recorded push, WeChat's fields in
    `message["fields"]`.

    Without `reply` it runs as a durable job enqueued with the record (retried on error, at
    most `max_attempts` times; timeout 60 s). With `reply=True` it runs while WeChat waits
    (timeout: push_reply_timeout) and may return the reply's fields, e.g.
    `{"MsgType": "transfer_customer_service"}`; None answers "success"."""
    options = {
        "msg_type": "event" if msg_type is None and event is not None else msg_type,
        "event": event,
        "reply": reply,
        "timeout": timeout if timeout is not None else (4.0 if reply else 60.0),
        "max_attempts": max_attempts,
    }
    return lambda handler: _declare(handler, Declaration("push", options))

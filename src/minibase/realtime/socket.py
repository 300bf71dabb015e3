"""The realtime socket, `/api/realtime`: one WebSocket per client, any number of watched
queries on it. JSON text frames, in both directions (docs/realtime.md has the protocol).

A client is anonymous until it authenticates, with `Authorization: Bearer` on the upgrade
request (wx.connectSocket's `header`) or an `auth` frame, sent again with the new token
after a refresh. Its subscriptions end when its token expires or is revoked, and its
connection closes (4008) when it reads too slowly for the messages waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from minibase.auth.caller import ANONYMOUS, Caller
from minibase.auth.tokens import TokenClaims
from minibase.auth.verification import claims_for_token
from minibase.data.changes import backlog, last_seq, resumable
from minibase.data.known_paths import checked_filter
from minibase.data.listing import parse_list_query
from minibase.data.records import list_records
from minibase.errors import ApiError
from minibase.realtime.hub import Subscription
from minibase.rules.filters import Filter

if TYPE_CHECKING:
    from minibase.services import Services

REALTIME_PATH = "/api/realtime"
MAX_FRAME = 64 * 1024
MAX_SUBSCRIPTIONS = 50
WATCH_EVERY = 1.0  # seconds between two looks at the token's expiry and revocation
TOO_SLOW = 4008
SIGNED_OUT = 4001
_KEYS = {
    "auth": {"type", "token"},
    "subscribe": {"type", "id", "collection", "filter", "sort", "limit", "since"},
    "unsubscribe": {"type", "id"},
    "ping": {"type"},
}


def _bad(message: str) -> ApiError:
    return ApiError("realtime.bad_frame", 400, message)


class Client:
    """One socket: who it is, what it watches, and what waits to be sent to it."""

    def __init__(self, services: Services, socket: WebSocket) -> None:
        self.services = services
        self.socket = socket
        self.claims: TokenClaims | None = None
        # messages, or their JSON text (a change, serialized once for all its watchers)
        self.outbox: asyncio.Queue[dict[str, Any] | str] = asyncio.Queue(
            services.settings.realtime_queue
        )
        self.too_slow = asyncio.Event()
        self.signed_out = asyncio.Event()  # its token expired or was revoked: `ended_by` says
        self.ended_by: ApiError | None = None
        self.subscriptions: dict[str, Subscription] = {}

    @property
    def caller(self) -> Caller:
        return ANONYMOUS if self.claims is None else self.claims.caller

    def send(self, message: dict[str, Any] | str) -> None:
        """Queue a message; a full queue marks the client as too slow (it is then closed)."""
        if self.too_slow.is_set():
            return
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            self.too_slow.set()

    def room_left(self) -> int:
        """How many more messages may wait for this socket before it is too slow."""
        return self.outbox.maxsize - self.outbox.qsize()

    def refuse(self, error: ApiError, subscription: str | None = None) -> None:
        message: dict[str, Any] = {"type": "error", "code": error.code, "message": error.message}
        if subscription is not None:
            message["id"] = subscription
        if error.details:
            message["details"] = error.details
        self.send(message)

    # -- what the client says ---------------------------------------------------------------

    async def handle(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "ping":
            self.send({"type": "pong"})
        elif kind == "auth":
            await self.authenticate(frame.get("token"))
        elif kind == "subscribe":
            await self.subscribe(frame)
        else:
            self.unsubscribe(_id(frame))

    async def authenticate(self, token: Any) -> None:
        if not isinstance(token, str) or not token:
            raise _bad("auth takes the access token: {type: auth, token}")
        claims = await claims_for_token(self.services, token)
        if self.claims is not None and claims.caller.id != self.caller.id:
            raise ApiError("realtime.other_user", 409, "this socket belongs to another account")
        self.claims = claims
        # roles may have changed with the new token: every watched query is bound again
        for sub_id, subscription in tuple(self.subscriptions.items()):
            try:
                subscription.bind(self.caller, subscription.bound_to)
            except ApiError as error:  # the new roles may no longer list it
                self.unsubscribe(sub_id, quietly=True)
                self.refuse(error, sub_id)
        self.send({"type": "authenticated", "user": self.caller.id, "expires": claims.expires})

    async def subscribe(self, frame: Mapping[str, Any]) -> None:
        sub_id = _id(frame)
        if sub_id in self.subscriptions:
            raise ApiError("realtime.duplicate_id", 409, f"subscription {sub_id!r} exists")
        if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            raise ApiError(
                "realtime.too_many", 429, f"at most {MAX_SUBSCRIPTIONS} subscriptions a socket"
            )
        name = frame.get("collection")
        if not isinstance(name, str):
            raise _bad("subscribe names a collection")
        settings = self.services.settings
        params = _query_params(frame)
        query = parse_list_query(params, settings.list_default_limit, settings.list_max_limit)
        collection = await self.services.collections.get(name)
        subscription = Subscription(
            sub_id, checked_filter(collection, query.filter), self.caller, collection, self.send
        )
        since = frame.get("since")
        if since is not None and (isinstance(since, bool) or not isinstance(since, int)):
            raise _bad("since is the number of the last event the client received")
        async with self.services.db.reader() as reader:
            resumes = (
                since is not None
                and await resumable(reader, since)
                # more to replay than the socket may hold waiting: a new snapshot is quicker
                and await backlog(reader, collection.name, since) < self.room_left()
            )
        if resumes and since is not None:
            subscription.after = since
            self.send({"type": "resumed", "id": sub_id, "event": since})
        else:
            if since is not None:
                self.send({"type": "resync", "id": sub_id, "since": since})
            # every change up to here is in the list read after it; later ones are sent
            at = await self.services.realtime.position()
            # the snapshot holds what the watch would send: what the read rule lets it read too
            readable = subscription.condition  # the filter and both rules
            snapshot = replace(query, filter=Filter(readable, query.filter.paths))
            page = await list_records(self.services, self.caller, collection.name, snapshot)
            subscription.after = at
            async with self.services.db.reader() as reader:
                # changes numbered up to here may be in the list already: not sent twice
                subscription.listed_through = await last_seq(reader)
            subscription.listed = {doc["_id"]: doc["_version"] for doc in page["items"]}
            self.send({"type": "snapshot", "id": sub_id, "event": at, "docs": page["items"]})
        self.subscriptions[sub_id] = subscription
        await self.services.realtime.subscribe(subscription)

    def unsubscribe(self, sub_id: str, *, quietly: bool = False) -> None:
        subscription = self.subscriptions.pop(sub_id, None)
        if subscription is None:
            raise ApiError("realtime.unknown_id", 404, f"no subscription {sub_id!r}")
        self.services.realtime.unsubscribe(subscription)
        if not quietly:
            self.send({"type": "unsubscribed", "id": sub_id})

    def end(self) -> None:
        for subscription in self.subscriptions.values():
            self.services.realtime.unsubscribe(subscription)
        self.subscriptions.clear()

    # -- the loops ------------------------------------------------------------------------

    async def read_forever(self) -> None:
        while True:
            message = await self.socket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                data = message.get("bytes") or b""
                text = data.decode("utf-8", "replace") if len(data) <= MAX_FRAME else None
            if text is None or len(text) > MAX_FRAME:
                self.refuse(_bad(f"a frame is at most {MAX_FRAME} bytes"))
                continue
            try:
                decoded = orjson.loads(text)
            except orjson.JSONDecodeError:
                decoded = None
            named = decoded.get("id") if isinstance(decoded, dict) else None
            try:
                await self.handle(_frame(decoded))
            except ApiError as error:  # said with the subscription the frame names, if any
                self.refuse(error, named if isinstance(named, str) else None)

    async def write_forever(self) -> None:
        while True:
            message = await self.outbox.get()
            text = message if isinstance(message, str) else orjson.dumps(message).decode()
            await self.socket.send_text(text)

    async def check_token(self, now: float) -> None:
        """Has the token expired or been revoked? Then the session ends, saying which."""
        claims = self.claims
        if claims is None or self.signed_out.is_set():
            return
        try:
            if claims.expires <= now:
                raise ApiError("auth.token_expired", 401, "the access token has expired")
            await self.services.revocations.check(claims)
        except ApiError as error:
            self.ended_by = error
            self.signed_out.set()


class TokenWatch:
    """One timer per process looks at every socket's token each `WATCH_EVERY` seconds (not a
    timer per socket: a thousand idle sockets wake nothing but this)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.clients: set[Client] = set()
        self._task: asyncio.Task[None] | None = None

    def add(self, client: Client) -> None:
        self.clients.add(client)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._forever())

    def discard(self, client: Client) -> None:
        self.clients.discard(client)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _forever(self) -> None:
        while self.clients:
            await asyncio.sleep(WATCH_EVERY)
            now = self.services.clock.timestamp()
            for client in tuple(self.clients):
                await client.check_token(now)


def token_watch(services: Services) -> TokenWatch:
    hub = services.realtime
    if hub.token_watch is None:
        hub.token_watch = TokenWatch(services)
    watch: TokenWatch = hub.token_watch
    return watch


async def serve(socket: WebSocket, services: Services) -> None:
    client = Client(services, socket)
    header = socket.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if header and (scheme.lower() != "bearer" or not token.strip()):
        await socket.close(SIGNED_OUT, "use Authorization: Bearer <token>")
        return
    await socket.accept()
    hub = services.realtime
    hub.connections += 1
    if token.strip():
        try:
            await client.authenticate(token.strip())
        except ApiError as error:  # never watch as anyone when a token was meant
            await socket.send_text(
                orjson.dumps(
                    {"type": "error", "code": error.code, "message": error.message}
                ).decode()
            )
            hub.connections -= 1
            await _close(socket, SIGNED_OUT, error.code)
            return
    reader = asyncio.create_task(client.read_forever())
    writer = asyncio.create_task(client.write_forever())
    watcher = asyncio.create_task(client.signed_out.wait())
    slow = asyncio.create_task(client.too_slow.wait())
    tasks = (reader, writer, watcher, slow)
    watch = token_watch(services)
    watch.add(client)
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if slow.done():
            await _close(socket, TOO_SLOW, "too slow: reconnect and resume from your last event")
        elif watcher.done() and client.ended_by is not None:
            ended = client.ended_by
            await _drain(client, writer)
            with contextlib.suppress(Exception):
                await socket.send_text(
                    orjson.dumps(
                        {"type": "error", "code": ended.code, "message": ended.message}
                    ).decode()
                )
            await _close(socket, SIGNED_OUT, ended.code)
        # else the client went away (its reader or our writer ended): nothing to say to it
    finally:
        hub.connections -= 1
        watch.discard(client)
        client.end()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, Exception):
                await task


async def _drain(client: Client, writer: asyncio.Task[None]) -> None:
    """Let what is queued go out first (a short while at most)."""
    for _ in range(20):
        if client.outbox.empty() or writer.done():
            return
        await asyncio.sleep(0.01)


async def _close(socket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(Exception):
        await socket.close(code, reason)


def _frame(frame: Any) -> dict[str, Any]:
    """A decoded frame, checked (None: it was not JSON)."""
    if not isinstance(frame, dict):
        raise _bad("a frame is a JSON object")
    kind = frame.get("type")
    if kind not in _KEYS:
        raise _bad(f"type is one of {sorted(_KEYS)}")
    unknown = sorted(set(frame) - _KEYS[kind])
    if unknown:
        raise _bad(f"{kind} does not take {unknown}")
    return frame


def _id(frame: Mapping[str, Any]) -> str:
    value = frame.get("id")
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise _bad("id names the subscription: a string of 1 to 64 characters")
    return value


def _query_params(frame: Mapping[str, Any]) -> dict[str, str]:
    """The subscription's query as the list route's parameters (the same checks apply)."""
    params: dict[str, str] = {}
    if frame.get("filter") is not None:
        params["filter"] = orjson.dumps(frame["filter"]).decode()
    for key in ("sort", "limit"):
        value = frame.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise _bad(f"{key} is as in the list route")
            params[key] = str(value)
    return params


def realtime_app(services_of: Callable[[], Services | None]) -> Callable[..., Any]:
    """The ASGI app mounted at /api/realtime: WebSockets only."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        services = services_of()
        if scope["type"] == "websocket" and services is not None:
            await serve(WebSocket(scope, receive, send), services)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013, "reason": "starting"})
            return
        body = orjson.dumps(
            {
                "code": "realtime.upgrade_required",
                "message": "this is a WebSocket: connect with wx.connectSocket or new WebSocket",
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 426,
                "headers": [(b"content-type", b"application/json"), (b"upgrade", b"websocket")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app

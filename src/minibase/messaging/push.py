"""WeChat message push (消息推送): the endpoint WeChat posts messages and events to.

A push is believed only once its signature (and, encrypted, its msg_signature, its decryption
and its appid) check out, its timestamp is inside `push_window` and its nonce is new. Each
message is recorded once (WeChat retries a push it got no answer to three times: the MsgId,
or FromUserName + CreateTime for events, makes the retries one row), and in that same
transaction a durable job is enqueued for every handler that does not reply: the
functions folder's `@push` handlers and the built-in ones other features register with
`handle`. A `@push(reply=True)` handler runs inline, under `push_reply_timeout` (WeChat waits
five seconds), and what it returns is the reply, encrypted when the push was.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from minibase.clock import isoformat
from minibase.errors import ApiError
from minibase.messaging.push_nonces import NonceStore
from minibase.platforms.wechat.push import PushCrypto, PushError
from minibase.store.database import Connection, Row, json_column

if TYPE_CHECKING:
    from minibase.services import Services

log = logging.getLogger("minibase.push")
PUSH_JOB = "minibase.push_message"
COLUMNS = "id, platform, appid, msg_type, event, from_user, fields, format, encrypted, received"
SUCCESS = b"success"  # what WeChat takes for "received, no reply"
BuiltinHandler = Callable[["PushMessage"], Awaitable[None]]
_REFUSED = {
    "signature": ("push.invalid_signature", 401),
    "msg_signature": ("push.invalid_signature", 401),
    "appid": ("push.wrong_app", 403),
}


@dataclass(frozen=True)
class PushMessage:
    """One recorded message or event; `fields` are WeChat's own (XML ones are text)."""

    id: str
    platform: str
    appid: str
    msg_type: str
    event: str | None
    from_user: str | None
    fields: dict[str, Any]
    format: str
    encrypted: bool
    received: str

    @classmethod
    def from_row(cls, row: Row) -> PushMessage:
        fields = json_column(row[6])
        return cls(
            row[0], row[1], row[2], row[3], row[4], row[5], fields, row[7], bool(row[8]), row[9]
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "platform": self.platform,
            "appid": self.appid,
            "msg_type": self.msg_type,
            "event": self.event,
            "from_user": self.from_user,
            "fields": self.fields,
            "format": self.format,
            "encrypted": self.encrypted,
            "received": self.received,
        }


@dataclass(frozen=True)
class PushAnswer:
    body: bytes
    media_type: str


@dataclass
class BuiltinHandlers:
    """Handlers other features add, by (MsgType, Event); each runs as a durable job."""

    by_name: dict[str, BuiltinHandler] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    by_match: dict[tuple[str, str | None], list[str]] = field(default_factory=dict)

    def names_for(self, msg_type: str, event: str | None) -> list[str]:
        return [*self.by_match.get((msg_type, None), []), *self.by_match.get((msg_type, event), [])]


def _dedupe_key(fields: Mapping[str, Any]) -> str:
    """WeChat's retries of one push share its MsgId; events have none, and are told apart by
    who sent them when (and which event it is)."""
    if fields.get("MsgId") not in (None, ""):
        return f"msg:{fields['MsgId']}"
    return f"event:{fields.get('FromUserName')}|{fields.get('CreateTime')}|{fields.get('Event')}"


class PushMessages:
    def __init__(self, services: Services, nonces: NonceStore) -> None:
        self._services = services
        self.nonces = nonces
        self.builtin = BuiltinHandlers()

    def handle(
        self,
        name: str,
        handler: BuiltinHandler,
        *,
        msg_type: str,
        event: str | None = None,
        max_attempts: int = 10,
    ) -> None:
        """Run `handler(message)` as a durable job for every push of `msg_type` (and `event`,
        when given), e.g. `handle("minibase.media_check", ..., msg_type="event",
        event="wxa_media_check")`. Names start with "minibase." and are stable: queued jobs
        refer to them."""
        if not name.startswith("minibase.") or name in self.builtin.by_name:
            raise ValueError(f"built-in push handler {name!r}: a new name under 'minibase.'")
        self.builtin.by_name[name] = handler
        self.builtin.attempts[name] = max_attempts
        self.builtin.by_match.setdefault((msg_type, event), []).append(name)

    async def crypto(self, appid: str) -> PushCrypto:
        app = await self._services.apps.get("wechat", appid)
        creds = app.credentials
        if not creds.push_token:
            raise ApiError(
                "push.not_configured", 404, f"app {appid} has no push_token: message push is off"
            )
        return PushCrypto(creds.push_token, creds.push_aes_key, appid)

    async def verify_url(self, appid: str, query: Mapping[str, str]) -> str:
        """The echostr of WeChat's GET verification, once its signature checks out."""
        push = await self.crypto(appid)
        try:
            return push.verify_url(query)
        except PushError as exc:
            raise _refusal(exc) from None

    async def receive(self, appid: str, query: Mapping[str, str], body: bytes) -> PushAnswer:
        """Check, record and dispatch one push; the answer WeChat gets."""
        push = await self.crypto(appid)
        try:
            opened = push.open(query, body)
        except PushError as exc:
            raise _refusal(exc) from None
        if push.encoding_aes_key is not None and not opened.encrypted:
            raise ApiError(
                "push.not_encrypted",
                400,
                "this app takes encrypted pushes only (its push_aes_key is set)",
            )
        msg_type = opened.fields.get("MsgType")
        if not isinstance(msg_type, str) or not msg_type:
            raise ApiError("push.invalid_message", 400, "the message has no MsgType")
        fresh_for = self._fresh_for(query)
        if not await self.nonces.claim(f"wechat:{appid}:{query.get('nonce')}", fresh_for):
            raise ApiError("push.replayed", 401, "this nonce was seen before: a replayed push")
        message = await self._record(
            appid, msg_type, opened.fields, opened.format, opened.encrypted
        )
        if message is None:  # a retry of one recorded already
            return PushAnswer(SUCCESS, "text/plain")
        reply = await self._reply(message)
        if reply is None:
            return PushAnswer(SUCCESS, "text/plain")
        sealed = push.seal_reply(reply, opened.format, encrypted=opened.encrypted)
        kind = "application/json" if opened.format == "json" else "application/xml"
        return PushAnswer(sealed, kind)

    @property
    def _window(self) -> float:
        return float(self._services.settings.push_window)

    def _fresh_for(self, query: Mapping[str, str]) -> float:
        """How long the push's timestamp stays inside the window: its nonce is kept as long,
        so a replay is refused by one check or the other."""
        stamp = query.get("timestamp", "")
        now = self._services.clock.timestamp()
        if not stamp.isdigit() or abs(now - int(stamp)) > self._window:
            raise ApiError(
                "push.stale",
                401,
                f"the timestamp is more than {self._window:g} s from now: a stale or replayed push",
            )
        return max(1.0, int(stamp) + self._window - now + 1)

    async def _record(
        self, appid: str, msg_type: str, fields: dict[str, Any], format: str, encrypted: bool
    ) -> PushMessage | None:
        event = fields.get("Event")
        sender = fields.get("FromUserName")
        services = self._services
        async with services.db.transaction() as conn:
            row = await conn.fetch_one(
                f"INSERT INTO push_messages ({COLUMNS}, dedupe_key) VALUES (?, 'wechat', ?, ?,"
                f" ?, ?, {conn.dialect.json_param()}, ?, ?, ?, ?)"
                f" ON CONFLICT (platform, appid, dedupe_key) DO NOTHING RETURNING {COLUMNS}",
                services.ids.new(),
                appid,
                msg_type,
                event if isinstance(event, str) else None,
                sender if isinstance(sender, str) else None,
                orjson.dumps(fields).decode(),
                format,
                int(encrypted),
                isoformat(services.clock.now()),
                _dedupe_key(fields),
            )
            if row is None:
                return None
            message = PushMessage.from_row(row)
            await self._enqueue_handlers(conn, message)
        return message

    async def _enqueue_handlers(self, conn: Connection, message: PushMessage) -> None:
        builtin = self.builtin
        jobs = [
            (name, builtin.attempts[name])
            for name in builtin.names_for(message.msg_type, message.event)
        ]
        functions = self._services.functions
        if functions is not None:
            jobs += [
                (handler.name, handler.max_attempts)
                for handler in functions.registry.push_for(message.msg_type, message.event)
                if not handler.reply
            ]
        for name, attempts in jobs:
            await self._services.jobs.enqueue(
                PUSH_JOB,
                {"message": message.id, "handler": name},
                key=f"{PUSH_JOB}:{message.id}:{name}",
                max_attempts=attempts,
                conn=conn,
            )

    async def _reply(self, message: PushMessage) -> dict[str, Any] | None:
        functions = self._services.functions
        reply = None if functions is None else await functions.push_reply(message)
        if reply is None:
            return None
        return {
            "ToUserName": message.from_user or "",
            "FromUserName": message.fields.get("ToUserName", ""),
            "CreateTime": int(self._services.clock.timestamp()),
            **reply,
        }

    # -- reading --------------------------------------------------------------------------

    async def message(self, message_id: str) -> PushMessage | None:
        row = await self._services.db.fetch_one(
            f"SELECT {COLUMNS} FROM push_messages WHERE id = ?", message_id
        )
        return None if row is None else PushMessage.from_row(row)

    async def messages(
        self, appid: str, before: str | None = None, limit: int = 20
    ) -> list[PushMessage]:
        """An app's recorded pushes, newest first."""
        clause, args = "", [appid]
        if before is not None:
            clause, args = " AND id < ?", [appid, before]
        rows = await self._services.db.fetch_all(
            f"SELECT {COLUMNS} FROM push_messages WHERE platform = 'wechat' AND appid = ?{clause}"
            " ORDER BY id DESC LIMIT ?",
            *args,
            limit,
        )
        return [PushMessage.from_row(row) for row in rows]


def _refusal(exc: PushError) -> ApiError:
    code, status = _REFUSED.get(exc.reason, ("push.invalid_message", 400))
    return ApiError(code, status, exc.message)

"""Subscribe messages on WeChat, Douyin and Alipay: queued with a durable job in one
transaction, sent by the job (with the app's shared access token where the platform has one),
each with a status admins can read.

The platform is the one the user signed in through (WeChat cgi-bin/message/subscribe/send,
Douyin subscribe_notification notify, Alipay alipay.open.app.mini.templatemessage.send). A
refusal that will not change by waiting (WeChat 43101 the user has not accepted the template,
40003 an unknown openid, 40037 an unknown template, 47003 bad data; Douyin 1000/1001/1008/1009;
Alipay's 40004 sub_codes) fails the message at once; quotas, rate limits and outages are
retried with the job's backoff, and the message fails only when its job has no attempt left.
What users accepted in requestSubscribeMessage is recorded per template, so a sender can see
whether a user can still receive one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from minibase.auth.apps import PlatformApp
from minibase.auth.identities import Identity, find_identity
from minibase.clock import isoformat
from minibase.errors import ApiError
from minibase.jobs import Job
from minibase.platforms import PlatformError
from minibase.store.database import Connection, Row, json_column
from minibase.store.pages import newest_first

if TYPE_CHECKING:
    from minibase.services import Services

SUBSCRIBE_JOB = "minibase.subscribe_message"
PLATFORMS = ("wechat", "douyin", "alipay")
STATES = ("queued", "sent", "failed")
_LIST_FILTERS = {
    "user": "user_id",
    "platform": "platform",
    "appid": "appid",
    "template_id": "template_id",
    "state": "state",
}
RETRIED_KINDS = frozenset({"unavailable", "rate_limited"})
COLUMNS = (
    "id, platform, appid, user_id, template_id, page, miniprogram_state, data, state, errcode,"
    " last_error, created, updated, sent_at"
)
_FIELDS = frozenset(
    {"user", "platform", "appid", "template_id", "page", "data", "miniprogram_state"}
)


def _invalid(message: str) -> ApiError:
    return ApiError("messages.invalid", 400, message)


@dataclass(frozen=True)
class SubscribeMessage:
    id: str
    platform: str
    appid: str
    user_id: str
    template_id: str
    page: str | None
    miniprogram_state: str | None
    data: dict[str, Any]
    state: str
    errcode: str | None
    last_error: str | None
    created: str
    updated: str
    sent_at: str | None

    @classmethod
    def from_row(cls, row: Row) -> SubscribeMessage:
        data = json_column(row[7])
        return cls(
            id=row[0],
            platform=row[1],
            appid=row[2],
            user_id=row[3],
            template_id=row[4],
            page=row[5],
            miniprogram_state=row[6],
            data=data,
            state=row[8],
            errcode=row[9],
            last_error=row[10],
            created=row[11],
            updated=row[12],
            sent_at=row[13],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "platform": self.platform,
            "appid": self.appid,
            "user": self.user_id,
            "template_id": self.template_id,
            "page": self.page,
            "miniprogram_state": self.miniprogram_state,
            "data": self.data,
            "state": self.state,
            "errcode": self.errcode,
            "last_error": self.last_error,
            "created": self.created,
            "updated": self.updated,
            "sent_at": self.sent_at,
        }


def check_message(body: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise _invalid(f"unknown fields {unknown}; a message has {sorted(_FIELDS)}")
    for name in ("user", "template_id"):
        if not isinstance(body.get(name), str) or not body[name]:
            raise _invalid(f"{name} is required")
    for name in ("platform", "appid", "page", "miniprogram_state"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise _invalid(f"{name} must be a string")
    if body.get("platform") not in (None, *PLATFORMS):
        raise _invalid(f"platform is one of {', '.join(PLATFORMS)}")
    if body.get("miniprogram_state") not in (None, "developer", "trial", "formal"):
        raise _invalid("miniprogram_state is developer, trial or formal")
    data = body.get("data")
    if (
        not isinstance(data, Mapping)
        or not data
        or not all(
            isinstance(value, str | int | float) and not isinstance(value, bool) and str(value)
            for value in data.values()
        )
    ):
        raise _invalid('data maps each template field to its value, e.g. {"thing1": "..."}')
    return dict(body)


class SubscribeMessages:
    def __init__(self, services: Services) -> None:
        self._services = services

    async def queue(self, body: Mapping[str, Any]) -> SubscribeMessage:
        """A message for a user of an app, and the job that sends it (one commit)."""
        values = check_message(body)
        services = self._services
        platform, appid = await self._app_of(values)
        if values.get("miniprogram_state") is not None and platform != "wechat":
            raise _invalid("miniprogram_state is for WeChat messages only")
        await services.apps.get(platform, appid)
        stamp = isoformat(services.clock.now())
        message_id = services.ids.new()
        async with services.db.transaction() as conn:
            if await find_identity(conn, values["user"], platform, appid) is None:
                raise ApiError(
                    "messages.no_openid", 409, f"this user has not signed in through {appid}"
                )
            row = await conn.fetch_one(
                f"INSERT INTO subscribe_messages ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?,"
                f" {conn.dialect.json_param()}, 'queued', NULL, NULL, ?, ?, NULL)"
                f" RETURNING {COLUMNS}",
                message_id,
                platform,
                appid,
                values["user"],
                values["template_id"],
                values.get("page"),
                values.get("miniprogram_state"),
                orjson.dumps(values["data"]).decode(),
                stamp,
                stamp,
            )
            await services.jobs.enqueue(
                SUBSCRIBE_JOB,
                {"message": message_id},
                key=f"{SUBSCRIBE_JOB}:{message_id}",
                conn=conn,
            )
        assert row is not None
        return SubscribeMessage.from_row(row)

    async def _app_of(self, values: Mapping[str, Any]) -> tuple[str, str]:
        """The (platform, appid) the message goes through: of the apps the user signed in
        through, the only one matching what the body names."""
        async with self._services.db.reader() as reader:
            rows = await reader.fetch_all(
                "SELECT DISTINCT platform, appid FROM user_identities WHERE user_id = ?",
                values["user"],
            )
        apps = [
            (str(platform), str(appid))
            for platform, appid in rows
            if platform in PLATFORMS
            and values.get("platform") in (None, platform)
            and values.get("appid") in (None, appid)
        ]
        if len(apps) == 1:
            return apps[0]
        if apps:
            raise _invalid("the user signed in through several apps: name the appid")
        if values.get("appid") is not None:
            raise ApiError(
                "messages.no_openid", 409, f"this user has not signed in through {values['appid']}"
            )
        raise _invalid("the user has not signed in through a WeChat, Douyin or Alipay app")

    async def get(self, message_id: str) -> SubscribeMessage:
        async with self._services.db.reader() as reader:
            row = await reader.fetch_one(
                f"SELECT {COLUMNS} FROM subscribe_messages WHERE id = ?", message_id
            )
        if row is None:
            raise ApiError("messages.not_found", 404, f"no message {message_id!r}")
        return SubscribeMessage.from_row(row)

    async def list(
        self, *, before: str | None = None, limit: int = 20, **filters: str | None
    ) -> list[SubscribeMessage]:
        """Newest first, filtered by any of user, platform, appid, template_id and state."""
        unknown = set(filters) - _LIST_FILTERS.keys()
        if unknown:
            raise ValueError(f"unknown filters {sorted(unknown)}")
        if filters.get("state") not in (None, *STATES):
            raise ApiError("request.invalid_query", 400, f"state is one of {', '.join(STATES)}")
        columns = {_LIST_FILTERS[name]: value for name, value in filters.items()}
        sql, args = newest_first(
            "subscribe_messages", COLUMNS, before=before, limit=limit, **columns
        )
        async with self._services.db.reader() as reader:
            rows = await reader.fetch_all(sql, *args)
        return [SubscribeMessage.from_row(row) for row in rows]

    async def counts(self) -> dict[str, int]:
        """How many messages are in each state (every state, zeros included)."""
        rows = await self._services.db.fetch_all(
            "SELECT state, COUNT(*) FROM subscribe_messages GROUP BY state"
        )
        found = {str(row[0]): int(row[1]) for row in rows}
        return {state: found.get(state, 0) for state in STATES}

    async def queued(self) -> int:
        """How many messages wait in the outbox (by the state index: cheap at any size)."""
        count = await self._services.db.fetch_value(
            "SELECT COUNT(*) FROM subscribe_messages WHERE state = 'queued'"
        )
        return int(count or 0)

    async def send(self, job: Job) -> None:
        """The job: send once; a lasting refusal fails the message, the rest is retried."""
        services = self._services
        message = await self.get(job.payload["message"])
        if message.state != "queued":
            return
        app = await services.apps.get(message.platform, message.appid)
        async with services.db.reader() as reader:
            identity = await find_identity(reader, message.user_id, message.platform, message.appid)
        if identity is None:
            await self._finish(job, message, "failed", None, "the user has no openid any more")
            return
        try:
            await self._deliver(app, identity, message)
        except PlatformError as exc:
            lasting = exc.kind not in RETRIED_KINDS
            last_attempt = job.attempts >= job.max_attempts
            if lasting or last_attempt:
                errcode = None if exc.errcode is None else str(exc.errcode)
                await self._finish(job, message, "failed", errcode, exc.message)
                return
            await self._note(message, exc)
            raise
        await self._finish(job, message, "sent", None, None)

    async def _deliver(
        self, app: PlatformApp, identity: Identity, message: SubscribeMessage
    ) -> None:
        """One send through the message's platform; PlatformError when it refuses."""
        services = self._services
        client: Any = services.platforms.client(app)
        if message.platform == "alipay":  # a signed gateway call: no access token
            await client.send_template_message(
                to=identity.openid,
                user_template_id=message.template_id,
                data=message.data,
                page=message.page,
            )
        elif message.platform == "douyin":
            await services.access_tokens.calling(
                app,
                lambda token: client.send_subscribe_notification(
                    token,
                    open_id=identity.openid,
                    tpl_id=message.template_id,
                    data=message.data,
                    page=message.page,
                ),
            )
        else:
            await services.access_tokens.calling(
                app,
                lambda token: client.send_subscribe_message(
                    token,
                    touser=identity.openid,
                    template_id=message.template_id,
                    data=message.data,
                    page=message.page,
                    miniprogram_state=message.miniprogram_state,
                ),
            )

    async def _note(self, message: SubscribeMessage, exc: PlatformError) -> None:
        async with self._services.db.transaction() as conn:
            await conn.execute(
                "UPDATE subscribe_messages SET errcode = ?, last_error = ?, updated = ?"
                " WHERE id = ?",
                None if exc.errcode is None else str(exc.errcode),
                exc.message,
                isoformat(self._services.clock.now()),
                message.id,
            )

    async def _finish(
        self,
        job: Job,
        message: SubscribeMessage,
        state: str,
        errcode: str | None,
        error: str | None,
    ) -> None:
        """The message's outcome and the job's success in one commit."""
        stamp = isoformat(self._services.clock.now())
        async with self._services.db.transaction() as conn:
            await conn.execute(
                "UPDATE subscribe_messages SET state = ?, errcode = ?, last_error = ?,"
                " updated = ?, sent_at = ? WHERE id = ?",
                state,
                errcode,
                error,
                stamp,
                stamp if state == "sent" else None,
                message.id,
            )
            if state == "sent":
                await self._use_grant(conn, message)
            if job.worker is not None:
                await self._services.jobs.succeed(job, job.worker, conn=conn)

    async def _use_grant(self, conn: Connection, message: SubscribeMessage) -> None:
        await conn.execute(
            "UPDATE subscription_grants SET remaining = remaining - 1, updated = ?"
            " WHERE user_id = ? AND appid = ? AND template_id = ? AND remaining > 0",
            isoformat(self._services.clock.now()),
            message.user_id,
            message.appid,
            message.template_id,
        )

    # -- what users accepted --------------------------------------------------------------

    async def record_grants(
        self, user_id: str, appid: str, answers: Mapping[str, Any]
    ) -> dict[str, int]:
        """requestSubscribeMessage's answer ({template_id: "accept" | "reject" | "ban" |
        "filter"}, as wx., tt. and my. report it): each "accept" is one more message of that
        template; the counts after."""
        if (
            not isinstance(answers, Mapping)
            or not answers
            or not all(
                isinstance(key, str) and value in ("accept", "reject", "ban", "filter")
                for key, value in answers.items()
            )
        ):
            raise _invalid('give {"TEMPLATE_ID": "accept" | "reject" | "ban" | "filter"}')
        stamp = isoformat(self._services.clock.now())
        async with self._services.db.transaction() as conn:
            for template_id, answer in answers.items():
                if answer == "accept":
                    await conn.execute(
                        "INSERT INTO subscription_grants (user_id, appid, template_id, remaining,"
                        " updated) VALUES (?, ?, ?, 1, ?) ON CONFLICT (user_id, appid,"
                        " template_id) DO UPDATE SET remaining = subscription_grants.remaining"
                        " + 1, updated = excluded.updated",
                        user_id,
                        appid,
                        template_id,
                        stamp,
                    )
                elif answer == "ban":  # the user turned the template off: none left
                    await conn.execute(
                        "UPDATE subscription_grants SET remaining = 0, updated = ?"
                        " WHERE user_id = ? AND appid = ? AND template_id = ?",
                        stamp,
                        user_id,
                        appid,
                        template_id,
                    )
        return await self.grants(user_id, appid)

    async def grants(self, user_id: str, appid: str) -> dict[str, int]:
        async with self._services.db.reader() as reader:
            rows = await reader.fetch_all(
                "SELECT template_id, remaining FROM subscription_grants WHERE user_id = ?"
                " AND appid = ? ORDER BY template_id",
                user_id,
                appid,
            )
        return {str(row[0]): int(row[1]) for row in rows}

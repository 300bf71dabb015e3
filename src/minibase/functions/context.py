"""What a cloud function, hook, schedule or job handler gets: `ctx`.

ctx.caller                 who called (id, roles, platform, appid, openid, unionid)
ctx.records                records with the caller's rules, as the API would apply them
ctx.records_as_admin       records past every rule — explicitly
ctx.jobs.enqueue(...)      a durable job
ctx.content                content checks (text now, media later) with a user's openid
async with ctx.transaction() as tx:    tx.records, tx.records_as_admin, tx.jobs in one
                                       transaction: all of it commits, or none
    await tx.complete_job()            (in a job) the job's success commits with the writes
ctx.links.qrcode(...)      a mini program code (kept), ctx.links.url_scheme / url_link
ctx.job                    the job being handled (id, name, attempts), None in a function call
ctx.log                    a logger named after the function
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from minibase.auth.caller import Caller
from minibase.data import records as features
from minibase.data.listing import ListQuery, parse_fields, parse_filter_value, parse_sort
from minibase.errors import ApiError
from minibase.functions.registry import FunctionRegistry
from minibase.jobs import InvalidJob, Job, JobQueue, LeaseLost
from minibase.messaging.qrcodes import QrCode
from minibase.services import Services
from minibase.store.database import Connection

ADMIN = Caller(kind="admin", id=None)


@dataclass(frozen=True)
class CallerInfo:
    kind: str  # "user", "admin" or "anonymous" (schedules and jobs run as "system")
    id: str | None
    roles: tuple[str, ...]
    platform: str | None
    appid: str | None
    openid: str | None
    unionid: str | None


class RecordsAPI:
    """The records API in Python, for one caller (and maybe inside one transaction)."""

    def __init__(self, services: Services, caller: Caller, conn: Connection | None) -> None:
        self._services = services
        self._caller = caller
        self._conn = conn

    async def get(self, collection: str, record_id: str) -> dict[str, Any]:
        raw = await features.get_record(
            self._services, self._caller, collection, record_id, conn=self._conn
        )
        found: dict[str, Any] = orjson.loads(raw)
        return found

    async def list(
        self,
        collection: str,
        *,
        filter: Mapping[str, Any] | None = None,
        sort: str | None = None,
        fields: Sequence[str] | None = None,
        limit: int = 20,
        cursor: str | None = None,
        count: bool = False,
    ) -> dict[str, Any]:
        settings = self._services.settings
        if not 1 <= limit <= settings.list_max_limit:
            raise ApiError(
                "request.invalid_query", 400, f"limit must be 1-{settings.list_max_limit}"
            )
        query = ListQuery(
            filter=parse_filter_value(filter),
            sort=parse_sort(sort),
            fields=parse_fields(",".join(fields)) if fields else None,
            limit=limit,
            cursor=cursor,
            count=count,
        )
        return await features.list_records(
            self._services, self._caller, collection, query, conn=self._conn
        )

    async def create(self, collection: str, record: Mapping[str, Any]) -> dict[str, Any]:
        return await features.create_record(
            self._services, self._caller, collection, dict(record), conn=self._conn
        )

    async def create_many(
        self, collection: str, records: Sequence[Mapping[str, Any]]
    ) -> builtins.list[dict[str, Any]]:
        return await features.create_records(
            self._services, self._caller, collection, [dict(r) for r in records], conn=self._conn
        )

    async def update(
        self,
        collection: str,
        record_id: str,
        changes: Mapping[str, Any],
        *,
        replace: bool = False,
        version: int | None = None,
    ) -> dict[str, Any]:
        return await features.update_record(
            self._services,
            self._caller,
            collection,
            record_id,
            dict(changes),
            replace=replace,
            expected_version=version,
            conn=self._conn,
        )

    async def delete(self, collection: str, record_id: str, *, version: int | None = None) -> None:
        await features.delete_record(
            self._services, self._caller, collection, record_id, version, conn=self._conn
        )


class JobsAPI:
    def __init__(
        self, queue: JobQueue, conn: Connection | None, declared: Callable[[str], int]
    ) -> None:
        self._queue = queue
        self._conn = conn
        self._declared_attempts = declared

    async def enqueue(
        self,
        name: str,
        payload: Any = None,
        *,
        run_at: datetime | None = None,
        key: str | None = None,
        max_attempts: int | None = None,
    ) -> Job:
        """A durable job for a `@job(name)` handler; with `key`, enqueueing twice is harmless.
        max_attempts defaults to what the handler declared."""
        if isinstance(name, str) and name.startswith(("minibase.", "pay.")):
            raise InvalidJob(f"{name!r}: 'minibase.' and 'pay.' are for minibase's own jobs")
        attempts = self._declared_attempts(name) if max_attempts is None else max_attempts
        return await self._queue.enqueue(
            name, payload, run_at=run_at, key=key, max_attempts=attempts, conn=self._conn
        )


class Scope:
    """Records (with the caller's rules, and as admin) and jobs, on one connection or none."""

    def __init__(
        self,
        services: Services,
        queue: JobQueue,
        registry: FunctionRegistry,
        caller: Caller,
        conn: Connection | None,
    ) -> None:
        self.records = RecordsAPI(services, caller, conn)
        self.records_as_admin = RecordsAPI(services, ADMIN, conn)
        self.jobs = JobsAPI(queue, conn, registry.max_attempts)


class Transaction(Scope):
    """`async with ctx.transaction() as tx`: everything through `tx` commits, or none of it."""

    def __init__(
        self,
        services: Services,
        queue: JobQueue,
        registry: FunctionRegistry,
        caller: Caller,
        conn: Connection,
        job: Job | None,
    ) -> None:
        super().__init__(services, queue, registry, caller, conn)
        self._queue = queue
        self._conn = conn
        self._job = job

    async def complete_job(self) -> None:
        """Mark the job being handled as succeeded in this transaction: its writes and its
        completion commit together, so a worker that dies after the commit never runs it
        again. Raises LeaseLost (rolling everything back) when another worker has taken the
        job over meanwhile."""
        job = self._job
        if job is None or job.worker is None:
            raise RuntimeError("complete_job() is for job handlers, after hooks and schedules")
        if not await self._queue.succeed(job, job.worker, conn=self._conn):
            raise LeaseLost(f"job {job.id} is no longer this worker's; its writes roll back")


class PaymentsAPI:
    """Orders and refunds from a function (see docs/payments.md)."""

    def __init__(self, services: Services, caller: Caller) -> None:
        self._services = services
        self._caller = caller

    async def order(self, order_id: str) -> dict[str, Any]:
        """An order with its refunds: the caller's own (any, for admins and jobs)."""
        order, refunds = await self._services.payments.order(order_id, self._caller)
        return {**order.to_json(), "refunds": [refund.to_json() for refund in refunds]}

    async def refund(self, order_id: str, amount: int, reason: str | None = None) -> dict[str, Any]:
        """Refund (part of) an order. Not checked against the caller: decide first who may."""
        order, refund = await self._services.payments.refund(order_id, amount, reason, self._caller)
        return {**refund.to_json(), "order_state": order.state.value}

    async def sync(self, order_id: str) -> dict[str, Any]:
        """Ask the provider about an unpaid order now; the order as it is then."""
        return (await self._services.payments.sync(order_id, "function")).to_json()


class MessagesAPI:
    """Subscribe messages from a function (see docs/messages.md)."""

    def __init__(self, services: Services) -> None:
        self._services = services

    async def subscribe(
        self,
        user: str,
        template_id: str,
        data: Mapping[str, Any],
        *,
        page: str | None = None,
        appid: str | None = None,
        miniprogram_state: str | None = None,
    ) -> dict[str, Any]:
        """Queue a subscribe message for a user; a durable job sends it. Its status at first."""
        body: dict[str, Any] = {"user": user, "template_id": template_id, "data": dict(data)}
        for key, value in (
            ("page", page),
            ("appid", appid),
            ("miniprogram_state", miniprogram_state),
        ):
            if value is not None:
                body[key] = value
        return (await self._services.messages.queue(body)).to_json()

    async def status(self, message_id: str) -> dict[str, Any]:
        return (await self._services.messages.get(message_id)).to_json()


class LinksAPI:
    """Mini program codes, URL schemes and URL links from a function (see docs/qrcodes.md)."""

    def __init__(self, services: Services) -> None:
        self._services = services

    async def qrcode(self, appid: str, scene: str, **options: Any) -> QrCode:
        """The code for `scene` (page, check_path, env_version, width, auto_color, line_color,
        is_hyaline): made once, then kept. `.image` is the PNG, `.to_json()` the rest."""
        return await self._services.qrcodes.make({"appid": appid, "scene": scene, **options})

    async def url_scheme(self, appid: str, **target: Any) -> dict[str, Any]:
        """A new `weixin://dl/business/?t=...` (path, query, env_version, expire_time or
        expire_interval)."""
        return await self._services.links.url_scheme({"appid": appid, **target})

    async def url_link(self, appid: str, **target: Any) -> dict[str, Any]:
        """A new `https://wxaurl.cn/...` (path, query, env_version, expire_time or
        expire_interval)."""
        return await self._services.links.url_link({"appid": appid, **target})


class ContentAPI:
    """Content checks from a function (see docs/content.md): the caller's own content by
    default, another user's when `user` is given."""

    def __init__(self, services: Services, caller: Caller) -> None:
        self._services = services
        self._caller = caller

    def _whose(self, user: str | None, appid: str | None) -> tuple[str, str | None]:
        if user is not None:
            return user, appid
        caller = self._caller
        if not caller.is_user or caller.id is None:
            raise ApiError("content.invalid", 400, "name the user whose content it is")
        checked = self._services.content.covers(caller.platform)
        return caller.id, appid or (caller.appid if checked else None)

    async def check_text(
        self,
        content: str,
        *,
        scene: str = "comment",
        user: str | None = None,
        appid: str | None = None,
        title: str | None = None,
        nickname: str | None = None,
        signature: str | None = None,
    ) -> dict[str, Any]:
        """The verdict: {"suggest": "pass" | "review" | "risky", "label", "label_name", ...}."""
        who, app = self._whose(user, appid)
        verdict = await self._services.content.check_text(
            who, app, content, scene=scene, title=title, nickname=nickname, signature=signature
        )
        return verdict.to_json()

    async def check_media(
        self,
        media_url: str,
        media_type: str = "image",
        *,
        scene: str = "comment",
        user: str | None = None,
        appid: str | None = None,
    ) -> dict[str, Any]:
        """Ask for a media check: on WeChat it is pending until its verdict is pushed, on
        Douyin decided at once (a `@job("content.media_checked")` handler gets each verdict)."""
        who, app = self._whose(user, appid)
        check = await self._services.content.check_media(
            who, app, media_url, media_type, scene=scene
        )
        return check.to_json()

    async def media_check(self, trace_id: str) -> dict[str, Any]:
        return (await self._services.content.media_check(trace_id)).to_json()


class FunctionContext(Scope):
    def __init__(
        self,
        services: Services,
        queue: JobQueue,
        registry: FunctionRegistry,
        caller: Caller,
        info: CallerInfo,
        name: str,
        request_id: str | None = None,
        conn: Connection | None = None,
        job: Job | None = None,
    ) -> None:
        super().__init__(services, queue, registry, caller, conn)
        self._services = services
        self._queue = queue
        self._registry = registry
        self._caller = caller
        self.caller = info
        self.request_id = request_id
        self.job = job  # the job being handled (its id, attempts ...), for handlers run as jobs
        self.payments = PaymentsAPI(services, caller)
        self.messages = MessagesAPI(services)
        self.links = LinksAPI(services)
        self.content = ContentAPI(services, caller)
        self.log = logging.getLogger(f"minibase.functions.{name}")

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._services.db.transaction() as conn:
            yield Transaction(
                self._services, self._queue, self._registry, self._caller, conn, self.job
            )

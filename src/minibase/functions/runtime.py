"""The functions runtime: calls cloud functions, runs record hooks (before: in the write's
transaction; after: as durable jobs), hands job handlers to the workers, and enqueues
scheduled runs once per occurrence.

It is the `RecordHooks` the records feature calls, and the job-handler lookup of the workers.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import orjson

from minibase.auth.caller import Caller
from minibase.auth.identities import find_identity
from minibase.backups.backup import BACKUP_JOB, run_scheduled_backup
from minibase.clock import isoformat, parse_iso
from minibase.data.changes import prune as prune_changes
from minibase.data.file_refs import FILES_DELETE_JOB, FILES_GC_JOB
from minibase.errors import ApiError
from minibase.functions.context import CallerInfo, FunctionContext
from minibase.functions.cron import Cron
from minibase.functions.registry import FunctionRegistry, Hook
from minibase.functions.sightings import due_after
from minibase.hooks import Action, RecordEvent
from minibase.jobs import Job, JobQueue
from minibase.messaging.push import PUSH_JOB, PushMessage
from minibase.messaging.subscribe import SUBSCRIBE_JOB
from minibase.pay.ledger import FULFIL_JOB
from minibase.pay.payments import RECONCILE_JOB
from minibase.store.database import Connection
from minibase.store.schema import ValidationError

if TYPE_CHECKING:
    from minibase.services import Services

log = logging.getLogger("minibase.functions")
AFTER_HOOK_JOB = "minibase.after_hook"
SCHEDULE_JOB = "minibase.schedule"
SYSTEM = Caller(kind="admin", id=None)
FILES_GC_INTERVAL = 3600.0
SCHEDULE_LOOKBACK = timedelta(minutes=5)
OPENID_CACHE_SIZE = 10_000
OPENID_CACHE_SECONDS = 60.0


async def _run(handler: Callable[..., Any], limit: float, *args: Any) -> Any:
    """Call an async handler (in this task: no task of its own to create), or a sync one on a
    thread, within its timeout."""
    async with asyncio.timeout(limit):
        if inspect.iscoroutinefunction(handler):
            return await handler(*args)
        return await asyncio.to_thread(handler, *args)


class Extensions:
    def __init__(self, services: Services, queue: JobQueue, registry: FunctionRegistry) -> None:
        self._services = services
        self._queue = queue
        self.registry = registry
        # (user, platform, appid) -> (until, openid, unionid): hooks on a bulk write would
        # otherwise read them once per record. An openid never changes; a unionid may appear
        # later (the app joins an open-platform account), hence the minute's lifetime.
        self._openids: dict[tuple[str, str, str], tuple[float, str, str | None]] = {}

    # -- context --------------------------------------------------------------------------

    async def context(
        self,
        caller: Caller,
        name: str,
        request_id: str | None = None,
        conn: Connection | None = None,
        job: Job | None = None,
    ) -> FunctionContext:
        openid, unionid = await self._platform_ids(caller)
        info = CallerInfo(
            caller.kind, caller.id, caller.roles, caller.platform, caller.appid, openid, unionid
        )
        return FunctionContext(
            self._services, self._queue, self.registry, caller, info, name, request_id, conn, job
        )

    async def _platform_ids(self, caller: Caller) -> tuple[str | None, str | None]:
        if not (caller.is_user and caller.id and caller.platform and caller.appid):
            return None, None
        key = (caller.id, caller.platform, caller.appid)
        now = time.monotonic()
        known = self._openids.get(key)
        if known is not None and known[0] > now:
            return known[1], known[2]
        async with self._services.db.reader() as reader:
            identity = await find_identity(reader, *key)
        if identity is None:
            return None, None
        if len(self._openids) >= OPENID_CACHE_SIZE:
            self._openids.clear()
        self._openids[key] = (now + OPENID_CACHE_SECONDS, identity.openid, identity.unionid)
        return identity.openid, identity.unionid

    # -- cloud functions ------------------------------------------------------------------

    async def call(self, name: str, caller: Caller, body: Any, request_id: str | None) -> Any:
        found = self.registry.functions.get(name)
        if found is None:
            raise ApiError("functions.not_found", 404, f"no function named {name!r}")
        if found.auth == "user" and not (caller.is_user or caller.is_admin):
            raise ApiError("auth.required", 401, f"{name} needs a user access token")
        if found.auth == "admin" and not caller.is_admin:
            raise ApiError("auth.admin_required", 403, f"{name} needs an admin token")
        payload = body
        if found.schema is not None:
            if body is None:  # no body at all: the declared fields' defaults
                body = {}
            if not isinstance(body, dict):
                raise ApiError("functions.invalid_input", 400, "the input is a JSON object")
            try:
                payload = found.schema.validate(body, apply_defaults=True)
            except ValidationError as exc:
                raise ApiError(
                    "functions.invalid_input",
                    400,
                    "the input does not match",
                    {"problems": exc.problems},
                ) from None
        ctx = await self.context(caller, name, request_id)
        try:
            result = await _run(found.handler, found.timeout, ctx, payload)
        except ApiError:
            raise
        except TimeoutError:
            raise ApiError(
                "functions.timeout", 504, f"{name} took longer than its {found.timeout:g} s"
            ) from None
        except Exception:
            log.exception("function %s failed (request %s)", name, request_id)
            raise ApiError(
                "functions.failed",
                500,
                f"{name} failed; the log has the details under the request id",
            ) from None
        try:
            orjson.dumps(result)
        except TypeError:
            log.error("function %s returned something that is not JSON: %r", name, type(result))
            message = f"{name} returned something that is not JSON"
            raise ApiError("functions.failed", 500, message) from None
        return result

    # -- record hooks ---------------------------------------------------------------------

    def watches(self, collection: str, action: Action) -> bool:
        registry = self.registry
        return bool(
            registry.hooks_for("before", collection, action)
            or registry.hooks_for("after", collection, action)
        )

    async def before(self, event: RecordEvent, conn: Connection) -> None:
        for hook in self.registry.hooks_for("before", event.collection, event.action):
            ctx = await self.context(event.caller, hook.name, conn=conn)
            try:
                await _run(hook.handler, hook.timeout, ctx, event)
            except ApiError:
                raise
            except TimeoutError:
                raise ApiError("functions.timeout", 504, f"hook {hook.name} timed out") from None
            except Exception:
                log.exception("before hook %s failed", hook.name)
                raise ApiError("functions.failed", 500, f"hook {hook.name} failed") from None

    async def after(self, event: RecordEvent, conn: Connection) -> None:
        """One durable job per after hook, in the write's transaction. No key: the write
        happens once with its transaction, and a record deleted and created again under the
        same id is a new event."""
        for hook in self.registry.hooks_for("after", event.collection, event.action):
            await self._queue.enqueue(
                AFTER_HOOK_JOB,
                {"hook": hook.name, "event": event.to_json()},
                conn=conn,
                max_payload_bytes=None,  # the records in it passed the API's own size limit
            )

    # -- jobs -----------------------------------------------------------------------------

    def handler_for(self, name: str) -> Callable[[Job], Awaitable[None]] | None:
        if name == AFTER_HOOK_JOB:
            return self._run_after_hook
        if name == SCHEDULE_JOB:
            return self._run_schedule
        if name == FULFIL_JOB:
            return self._run_paid
        if name == RECONCILE_JOB:
            return self._reconcile
        if name == SUBSCRIBE_JOB:
            return self._services.messages.send
        if name == PUSH_JOB:
            return self._run_push
        if name == FILES_DELETE_JOB:
            return self._services.files.delete_job
        if name == FILES_GC_JOB:
            return self._services.files.gc_job
        if name == BACKUP_JOB:
            return self._backup
        found = self.registry.jobs.get(name)
        if found is None:
            return None

        async def run(job: Job) -> None:
            ctx = await self.context(SYSTEM, found.name, job=job)
            await _run(found.handler, found.timeout, ctx, job.payload)

        return run

    async def _run_after_hook(self, job: Job) -> None:
        hook: Hook | None = self.registry.hooks_by_name.get(job.payload["hook"])
        if hook is None:
            log.warning("after hook %s is gone; its event is dropped", job.payload["hook"])
            return
        data = job.payload["event"]
        who = data["caller"]
        caller = Caller(
            kind=who["kind"],
            id=who["id"],
            roles=tuple(who["roles"]),
            platform=who["platform"],
            appid=who["appid"],
        )
        event = RecordEvent(
            data["collection"], data["action"], data["record"], data["previous"], caller
        )
        ctx = await self.context(caller, hook.name, job=job)
        await _run(hook.handler, hook.timeout, ctx, event)

    async def _backup(self, job: Job) -> None:
        services = self._services
        await run_scheduled_backup(services.settings, services.clock.now())

    async def _run_schedule(self, job: Job) -> None:
        scheduled = self.registry.schedules.get(job.payload["schedule"])
        if scheduled is None:
            log.warning("schedule %s is gone; its run is skipped", job.payload["schedule"])
            return
        ctx = await self.context(SYSTEM, scheduled.name, job=job)
        await _run(scheduled.handler, scheduled.timeout, ctx, *scheduled.arguments)

    async def _enqueue_backups(self, now: datetime) -> int:
        """backup_schedule's occurrences of the last few minutes, once each across processes
        (a start shortly after one still takes it)."""
        schedule = self._services.settings.backup_schedule
        if schedule is None:
            return 0
        moments = Cron.parse(schedule).occurrences(now - SCHEDULE_LOOKBACK, now, ZoneInfo("UTC"))
        for moment in moments:
            at = isoformat(moment)
            key = f"{BACKUP_JOB}:{at}"
            await self._queue.enqueue(BACKUP_JOB, {"at": at}, run_at=moment, key=key)
        return len(moments)

    # -- payments -------------------------------------------------------------------------

    async def price(
        self, caller: Caller, wanted: Any, request_id: str | None
    ) -> tuple[int, str | None] | None:
        """What the @price hook says the product costs (None: there is no price hook)."""
        hook = self.registry.price
        if hook is None:
            return None
        ctx = await self.context(caller, hook.name, request_id)
        body = {
            "product": wanted.product,
            "amount": wanted.amount,
            "description": wanted.description,
        }
        try:
            priced = await _run(hook.handler, hook.timeout, ctx, wanted.product, body)
        except ApiError:
            raise
        except TimeoutError:
            raise ApiError("functions.timeout", 504, f"price hook {hook.name} timed out") from None
        except Exception:
            log.exception("price hook %s failed (request %s)", hook.name, request_id)
            raise ApiError("functions.failed", 500, f"price hook {hook.name} failed") from None
        amount = priced.get("amount") if isinstance(priced, dict) else None
        description = priced.get("description") if isinstance(priced, dict) else None
        if (
            isinstance(amount, bool)
            or not isinstance(amount, int)
            or amount < 1
            or not (
                description is None
                or (isinstance(description, str) and 1 <= len(description) <= 127)
            )
        ):
            log.error("price hook %s returned %r", hook.name, priced)
            message = f"price hook {hook.name} must return {{'amount': fen > 0, 'description'}}"
            raise ApiError("functions.failed", 500, message)
        return amount, description

    async def _run_paid(self, job: Job) -> None:
        hook = self.registry.paid
        if hook is None:  # fails (and retries, then waits in the dead jobs) until there is one
            raise RuntimeError("no @paid hook is declared: this paid order is not fulfilled")
        payments = self._services.payments
        async with self._services.db.reader() as reader:
            order = await payments.ledger.order(reader, job.payload["order"])
        if order is None:
            log.warning("paid order %s is gone; nothing to fulfil", job.payload["order"])
            return
        ctx = await self.context(SYSTEM, hook.name, job=job)
        await _run(hook.handler, hook.timeout, ctx, order.to_json())

    async def _reconcile(self, job: Job) -> None:
        counts = await self._services.payments.reconcile()
        log.info("reconciled payments: %s", counts)

    # -- message push ---------------------------------------------------------------------

    async def _run_push(self, job: Job) -> None:
        push = self._services.push
        name = job.payload["handler"]
        message = await push.message(job.payload["message"])
        if message is None:
            log.warning("push message %s is gone; %s is skipped", job.payload["message"], name)
            return
        builtin = push.builtin.by_name.get(name)
        if builtin is not None:
            await builtin(message)
            return
        handler = self.registry.push.get(name)
        if handler is None:
            log.warning("push handler %s is gone; message %s is not handled", name, message.id)
            return
        ctx = await self.context(SYSTEM, handler.name, job=job)
        await _run(handler.handler, handler.timeout, ctx, message.to_json())

    async def push_reply(self, message: PushMessage) -> dict[str, Any] | None:
        """What the first matching @push(reply=True) handler returns (None: no reply). A
        handler that fails or runs late is logged and answered "success": the message is
        recorded, and WeChat's retry would find it so."""
        for handler in self.registry.push_for(message.msg_type, message.event):
            if not handler.reply:
                continue
            ctx = await self.context(SYSTEM, handler.name)
            limit = min(handler.timeout, self._services.settings.push_reply_timeout)
            try:
                reply = await _run(handler.handler, limit, ctx, message.to_json())
            except TimeoutError:
                log.error("push handler %s took longer than %g s: no reply", handler.name, limit)
                return None
            except Exception:
                log.exception("push handler %s failed: no reply", handler.name)
                return None
            if reply is not None and not isinstance(reply, dict):
                log.error("push handler %s returned %r, not a dict", handler.name, type(reply))
                return None
            return reply
        return None

    # -- schedules ------------------------------------------------------------------------

    async def enqueue_due(self) -> int:
        """Enqueue every occurrence of the last few minutes (since a schedule was first seen, if
        that is later); keys make it once per occurrence, however many processes do the same at
        the same time."""
        now = self._services.clock.now()
        schedules = self.registry.schedules.values()
        after = await due_after(self._services.db, schedules, now, SCHEDULE_LOOKBACK)
        enqueued = 0
        for scheduled in schedules:
            for moment in scheduled.cron.occurrences(after[scheduled.name], now, scheduled.tz):
                at = isoformat(moment)
                await self._queue.enqueue(
                    SCHEDULE_JOB,
                    {"schedule": scheduled.name, "at": at},
                    run_at=parse_iso(at),
                    key=f"schedule:{scheduled.name}:{at}",
                )
                enqueued += 1
        enqueued += await self._enqueue_backups(now)
        # record changes older than the realtime retention: gone (an indexed delete, cheap)
        settings = self._services.settings
        await prune_changes(self._services.db, now.timestamp() - settings.realtime_retention)
        if await self._services.files.gc_due():
            # uploads no record took: collected at most hourly, once across every process
            hour = int(now.timestamp() // FILES_GC_INTERVAL)
            await self._queue.enqueue(FILES_GC_JOB, {}, key=f"{FILES_GC_JOB}:{hour}")
        if await self._services.payments.reconcile_due():
            # one run per interval across every process, while anything waits to be asked
            bucket = int(now.timestamp() // self._services.settings.scheduler_interval)
            await self._queue.enqueue(RECONCILE_JOB, {}, key=f"{RECONCILE_JOB}:{bucket}")
            enqueued += 1
        return enqueued

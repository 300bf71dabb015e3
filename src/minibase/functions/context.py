"""What a cloud function, hook, schedule or job handler gets: `ctx`.

ctx.caller                 who called (id, roles, platform, appid, openid, unionid)
ctx.records                records with the caller's rules, as the API would apply them
ctx.records_as_admin       records past every rule — explicitly
ctx.jobs.enqueue(...)      a durable job
async with ctx.transaction() as tx:    tx.records, tx.records_as_admin, tx.jobs in one
                                       transaction: all of it commits, or none
ctx.log                    a logger named after the function
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from minibase.auth.caller import Caller
from minibase.data import records as features
from minibase.data.listing import ListQuery, parse_fields, parse_filter_value, parse_sort
from minibase.errors import ApiError
from minibase.jobs import Job, JobQueue
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
    def __init__(self, queue: JobQueue, conn: Connection | None) -> None:
        self._queue = queue
        self._conn = conn

    async def enqueue(
        self,
        name: str,
        payload: Any = None,
        *,
        run_at: datetime | None = None,
        key: str | None = None,
        max_attempts: int = 10,
    ) -> Job:
        """A durable job for a `@job(name)` handler; with `key`, enqueueing twice is harmless."""
        return await self._queue.enqueue(
            name, payload, run_at=run_at, key=key, max_attempts=max_attempts, conn=self._conn
        )


@dataclass(frozen=True)
class Transaction:
    records: RecordsAPI
    records_as_admin: RecordsAPI
    jobs: JobsAPI


class FunctionContext:
    def __init__(
        self,
        services: Services,
        queue: JobQueue,
        caller: Caller,
        info: CallerInfo,
        name: str,
        request_id: str | None = None,
        conn: Connection | None = None,
    ) -> None:
        self._services = services
        self._queue = queue
        self._caller = caller
        self.caller = info
        self.request_id = request_id
        self.log = logging.getLogger(f"minibase.functions.{name}")
        self.records = RecordsAPI(services, caller, conn)
        self.records_as_admin = RecordsAPI(services, ADMIN, conn)
        self.jobs = JobsAPI(queue, conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        async with self._services.db.transaction() as conn:
            yield Transaction(
                records=RecordsAPI(self._services, self._caller, conn),
                records_as_admin=RecordsAPI(self._services, ADMIN, conn),
                jobs=JobsAPI(self._queue, conn),
            )

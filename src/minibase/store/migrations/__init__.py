"""Versioned migrations of the system tables, applied in order, once, under a lock.

A migration is a module with VERSION, NAME and `statements(dialect) -> list[str]`; add new ones
to MIGRATIONS. They run in one transaction each run (DDL is transactional on both engines).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from minibase.clock import Clock, isoformat
from minibase.store.database import Connection, Database
from minibase.store.migrations import (
    v0001_system_tables,
    v0002_platform_identities,
    v0003_jobs,
    v0004_payments,
    v0005_pay_merchants,
    v0006_platform_tokens,
    v0007_subscribe_messages,
    v0008_qr_codes,
    v0009_push_messages,
    v0010_content_checks,
    v0011_token_revocations_and_throttles,
    v0012_schedule_sightings,
    v0013_guest_identities,
    v0014_files,
    v0015_files_waiting_index,
    v0016_user_merges,
    v0017_token_refreshes,
    v0018_admin_lists,
    v0019_record_changes,
)

_LOCK_ID = 7_246_190_331  # pg_advisory_xact_lock key: several instances may start at once


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    module: ModuleType


MIGRATIONS: tuple[Migration, ...] = tuple(
    Migration(module.VERSION, module.NAME, module)
    for module in (
        v0001_system_tables,
        v0002_platform_identities,
        v0003_jobs,
        v0004_payments,
        v0005_pay_merchants,
        v0006_platform_tokens,
        v0007_subscribe_messages,
        v0008_qr_codes,
        v0009_push_messages,
        v0010_content_checks,
        v0011_token_revocations_and_throttles,
        v0012_schedule_sightings,
        v0013_guest_identities,
        v0014_files,
        v0015_files_waiting_index,
        v0016_user_merges,
        v0017_token_refreshes,
        v0018_admin_lists,
        v0019_record_changes,
    )
)


class MigrationsPending(RuntimeError):
    """The database is behind the code; run `minibase migrate`."""


async def _applied(conn: Connection) -> set[int]:
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    rows = await conn.fetch_all("SELECT version FROM schema_migrations")
    return {int(row[0]) for row in rows}


async def migrate(db: Database, clock: Clock) -> list[Migration]:
    """Apply every pending migration; returns those applied (none when up to date)."""
    async with db.transaction() as conn:
        if db.dialect.name == "postgres":
            await conn.fetch_value("SELECT pg_advisory_xact_lock(?)", _LOCK_ID)
        done = await _applied(conn)
        applied = []
        for migration in MIGRATIONS:
            if migration.version in done:
                continue
            await conn.execute_script(migration.module.statements(db.dialect))
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                migration.version,
                migration.name,
                isoformat(clock.now()),
            )
            applied.append(migration)
        return applied


async def pending(db: Database) -> list[Migration]:
    async with db.transaction() as conn:
        done = await _applied(conn)
    return [m for m in MIGRATIONS if m.version not in done]


@dataclass(frozen=True)
class Applied:
    version: int
    name: str
    applied_at: str


async def last_applied(db: Database) -> Applied | None:
    """The newest migration applied to the database (None before the first)."""
    row = await db.fetch_one(
        "SELECT version, name, applied_at FROM schema_migrations ORDER BY version DESC LIMIT 1"
    )
    return None if row is None else Applied(int(row[0]), str(row[1]), str(row[2]))


async def ensure_current(db: Database) -> None:
    missing = await pending(db)
    if missing:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in missing)
        raise MigrationsPending(f"the database needs migrations ({names}): run `minibase migrate`")

"""The one object graph: built once by `open_services`, handed to every feature and route."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from minibase.auth.apps import AppRegistry, apply_configured_apps
from minibase.auth.file_counters import FileCounterStore
from minibase.auth.rate_limits import CounterStore, MemoryCounterStore, RateLimits
from minibase.auth.revocations import Revocations
from minibase.auth.sessions import Sessions
from minibase.auth.throttle import (
    AttemptStore,
    DatabaseAttemptStore,
    Limit,
    RedisAttemptStore,
    SignInLimits,
    Throttle,
)
from minibase.auth.tokens import TokenSigner
from minibase.clock import Clock, SystemClock
from minibase.config import Settings, rate_limits
from minibase.data.file_store import Files
from minibase.gateway import PlatformGateway
from minibase.hooks import NoHooks, RecordHooks
from minibase.ids import IdGenerator
from minibase.jobs import JobQueue
from minibase.messaging.access_tokens import AccessTokens
from minibase.messaging.content import ContentChecks
from minibase.messaging.links import Links
from minibase.messaging.push import PushMessages
from minibase.messaging.push_nonces import DatabaseNonceStore, NonceStore, RedisNonceStore
from minibase.messaging.qrcodes import QrCodes
from minibase.messaging.subscribe import SubscribeMessages
from minibase.messaging.token_store import DatabaseTokenStore, RedisTokenStore, TokenStore
from minibase.pay.merchants import MerchantRegistry, apply_configured_merchants
from minibase.pay.payments import Payments
from minibase.private_files import secure_data_dir
from minibase.realtime.hub import Hub
from minibase.server_folder import server_folder
from minibase.store.database import Database
from minibase.store.migrations import ensure_current, migrate
from minibase.store.postgres import PostgresDatabase
from minibase.store.registry import CollectionRegistry
from minibase.store.sqlite import SQLiteDatabase
from minibase.vault import Vault, load_master_key


@dataclass
class Services:
    settings: Settings
    clock: Clock
    ids: IdGenerator
    db: Database
    vault: Vault
    signer: TokenSigner
    sessions: Sessions
    collections: CollectionRegistry
    revocations: Revocations
    apps: AppRegistry
    platforms: PlatformGateway
    access_tokens: AccessTokens
    jobs: JobQueue
    merchants: MerchantRegistry
    throttle: Throttle
    rate_limits: RateLimits
    payments: Payments = field(init=False)
    messages: SubscribeMessages = field(init=False)
    qrcodes: QrCodes = field(init=False)
    links: Links = field(init=False)
    push: PushMessages = field(init=False)
    content: ContentChecks = field(init=False)
    files: Files = field(init=False)
    realtime: Hub = field(init=False)
    hooks: RecordHooks = field(default_factory=NoHooks)
    functions: Any = None  # the functions runtime (minibase.functions.runtime.Extensions)
    sandbox: Any = None  # the in-process sandbox in --dev (minibase.sandbox.Sandbox)
    # Set when the instance begins to stop: /api/ready answers 503 so that traffic drains away.
    shutting_down: bool = False
    # list queries (minibase.data.listing.ListQuery) parsed lately, by their query string
    list_queries: dict[bytes, Any] = field(default_factory=dict)
    started: datetime = field(init=False)  # when this process built its services

    def __post_init__(self) -> None:
        self.started = self.clock.now()
        self.payments = Payments(self, self.merchants)
        self.messages = SubscribeMessages(self)
        self.qrcodes = QrCodes(self)
        self.links = Links(self)
        self.push = PushMessages(self, nonce_store_for(self.settings, self.db, self.clock))
        self.content = ContentChecks(self)
        self.files = Files(self)
        self.realtime = Hub(self)

    async def close(self) -> None:
        await self.realtime.close()
        await self.throttle.store.close()
        await self.rate_limits.store.close()
        await self.access_tokens.close()
        await self.push.nonces.close()
        await self.platforms.close()
        await self.files.aclose()
        await self.db.close()


def token_store_for(settings: Settings, db: Database, vault: Vault, clock: Clock) -> TokenStore:
    if settings.cache_url:
        return RedisTokenStore(settings.cache_url, vault, clock)
    return DatabaseTokenStore(db, vault, clock)


def nonce_store_for(settings: Settings, db: Database, clock: Clock) -> NonceStore:
    if settings.cache_url:
        return RedisNonceStore(settings.cache_url)
    return DatabaseNonceStore(db, clock)


def throttle_for(settings: Settings, db: Database, vault: Vault, clock: Clock) -> Throttle:
    store: AttemptStore = (
        RedisAttemptStore(settings.cache_url) if settings.cache_url else DatabaseAttemptStore(db)
    )
    window = settings.throttle_window
    limits = SignInLimits(
        admin_account=Limit(
            "admin_login.account",
            settings.admin_login_failures_per_account,
            window,
            reset_on_success=True,
        ),
        admin_address=Limit(
            "admin_login.address", settings.admin_login_failures_per_address, window
        ),
        refresh_address=Limit("refresh.address", settings.refresh_failures_per_address, window),
        platform_address=Limit(
            "platform_login.address", settings.platform_login_failures_per_address, window
        ),
    )
    return Throttle(store, clock, limits, vault.derive("minibase/throttle/v1"))


RATE_COUNTERS = "rate-limits"  # the counters' file in the server's folder


def rate_limits_for(settings: Settings, vault: Vault, clock: Clock) -> RateLimits:
    per_address = rate_limits(settings, "rate_limits_per_address")
    per_user = rate_limits(settings, "rate_limits_per_user")
    store = counter_store_for(settings) if per_address or per_user else MemoryCounterStore()
    key = vault.derive("minibase/rate-limits/v1")
    return RateLimits(store, clock, per_address, per_user, key)


def counter_store_for(settings: Settings) -> CounterStore:
    """Redis with cache_url (every instance counts together); else a file in the server's
    folder (the workers of this `minibase serve` do); else this process alone."""
    if settings.cache_url:
        return RedisAttemptStore(settings.cache_url)
    folder = server_folder()
    if folder is not None:
        return FileCounterStore(folder / RATE_COUNTERS)
    return MemoryCounterStore()


def database_for(settings: Settings) -> Database:
    if settings.uses_sqlite:
        return SQLiteDatabase(
            settings.sqlite_path,
            readers=settings.sqlite_readers,
            regex_budget=settings.regex_budget,
        )
    assert settings.database_url is not None
    return PostgresDatabase(
        settings.database_url,
        pool_size=settings.postgres_pool_size,
        regex_budget=settings.regex_budget,
    )


async def open_services(
    settings: Settings, *, clock: Clock | None = None, migrate_now: bool | None = None
) -> Services:
    """Connect, migrate if this setup migrates at start, and build the graph."""
    clock = clock or SystemClock()
    secure_data_dir(settings.data_dir)
    db = database_for(settings)
    await db.open()
    try:
        if settings.should_auto_migrate if migrate_now is None else migrate_now:
            await migrate(db, clock)
        else:
            await ensure_current(db)
        vault = Vault(load_master_key(settings.master_key, settings.data_dir))
        ids = IdGenerator(clock)
        signer = TokenSigner(vault.derive("minibase/tokens/v1"), vault.key_id, clock)
        revocations = Revocations(db, clock, settings.access_token_ttl, settings.admin_token_ttl)
        await revocations.load()
        sessions = Sessions(
            signer,
            clock,
            ids,
            settings.access_token_ttl,
            settings.refresh_token_ttl,
            revocations,
        )
        registry = CollectionRegistry(db)
        await registry.load()
        apps = AppRegistry(db, vault)
        await apply_configured_apps(db, apps, clock, ids, settings)
        await apps.load()
        merchants = MerchantRegistry(db, vault)
        await apply_configured_merchants(db, merchants, clock, ids, settings)
        await merchants.load()
        limits = rate_limits_for(settings, vault, clock)  # a bad setting stops the start here
    except BaseException:
        await db.close()
        raise
    gateway = PlatformGateway(settings)
    services = Services(
        settings,
        clock,
        ids,
        db,
        vault,
        signer,
        sessions,
        registry,
        revocations,
        apps,
        gateway,
        AccessTokens(
            gateway,
            clock,
            token_store_for(settings, db, vault, clock),
            stable=settings.wechat_token_api == "stable_token",  # noqa: S105
            lease=settings.platform_timeout * 3,
        ),
        JobQueue(db, clock, ids),
        merchants,
        throttle_for(settings, db, vault, clock),
        limits,
    )
    try:
        attach_functions(services)
    except BaseException:
        await services.close()
        raise
    return services


def attach_functions(services: Services) -> None:
    """Load the functions folder; its runtime becomes the record hooks.

    Imported here, not at the top: the runtime's modules use Services themselves.
    """
    from minibase.functions.registry import load_configured
    from minibase.functions.runtime import Extensions

    registry = load_configured(services.settings)
    services.functions = Extensions(services, services.jobs, registry)
    services.hooks = services.functions


def background_for(services: Services, *, reload: bool, run_jobs: bool | None = None) -> Any:
    """Job workers and the scheduler (when settings.run_jobs), and --dev's function reloading."""
    from minibase.functions.background import Background

    settings = services.settings
    return Background(
        services.functions,
        services.jobs,
        settings,
        run_jobs=settings.run_jobs if run_jobs is None else run_jobs,
        reload=reload,
    )

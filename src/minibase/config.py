"""One Settings object, built from defaults < minibase.toml < MINIBASE_* environment < flags.

It is passed down from `create_app`; nothing reads the environment anywhere else.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit, urlunsplit


class ConfigError(ValueError):
    """A setting has a value that cannot be used; the message names it."""


# The route groups request rate limits are set for (see docs/rate-limits.md).
RATE_GROUPS = (
    "auth",
    "records_read",
    "records_write",
    "files",
    "functions",
    "admin",
    "default",
)
_RATE_UNITS = {"second": 1, "minute": 60, "hour": 3600}


@dataclass(frozen=True, slots=True)
class Rate:
    """So many requests per window of `seconds`."""

    requests: int
    seconds: int


def rate_limits(settings: Settings, name: str) -> dict[str, Rate]:
    """A rate_limits_* setting's entries ("records_write=120/minute") by group."""
    found: dict[str, Rate] = {}
    for entry in getattr(settings, name):
        group, _, rate = entry.partition("=")
        group, rate = group.strip(), rate.strip()
        count, _, unit = rate.partition("/")
        problem = None
        if group not in RATE_GROUPS:
            problem = f"no route group {group!r} (groups: {', '.join(RATE_GROUPS)})"
        elif group in found:
            problem = f"group {group} is given twice"
        elif not count.strip().isdigit() or int(count) <= 0 or unit.strip() not in _RATE_UNITS:
            problem = "write group=N/second, N/minute or N/hour with N a whole number above 0"
        if problem:
            raise ConfigError(f"setting {name} ({env_name(name)}): {entry!r}: {problem}")
        found[group] = Rate(int(count), _RATE_UNITS[unit.strip()])
    return found


_SECRET_SETTINGS = frozenset({"master_key", "s3_secret_key"})
_URL_SETTINGS = frozenset({"database_url", "cache_url"})  # may hold a password


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:<secret>@{host}"))


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("minibase_data")
    dev: bool = False
    # None: the embedded default, SQLite at <data_dir>/data.db.
    database_url: str | None = None
    # Base64 of 32 random bytes. None: generated once into <data_dir>/master.key.
    master_key: str | None = None
    # None: migrate at start on SQLite and in --dev; `minibase migrate` otherwise.
    auto_migrate: bool | None = None
    # Server worker processes; None ("auto"): one per core (serving.worker_count).
    workers: int | None = None
    server: str = "granian"
    # Seconds a stopping server (SIGTERM) gives its requests in flight to finish, after it has
    # stopped taking new ones; then its workers are killed.
    shutdown_timeout: int = 30
    # Seconds a server keeps taking requests after SIGTERM, with /api/ready answering 503, so a
    # balancer that probes readiness stops sending it traffic first (0: stop taking them at once).
    shutdown_drain: float = 0.0
    max_body_bytes: int = 1_048_576
    access_token_ttl: int = 900
    refresh_token_ttl: int = 30 * 24 * 3600
    admin_token_ttl: int = 12 * 3600
    list_default_limit: int = 20
    list_max_limit: int = 100
    bulk_max_records: int = 1000
    # The shape of a record (its user fields, at any depth), checked on every write: characters
    # of a field name, fields of one object, keys of all its objects together.
    record_max_name_length: int = 128
    record_max_fields_per_object: int = 1000
    record_max_keys: int = 10_000
    sqlite_readers: int = 4
    postgres_pool_size: int = 10
    # Seconds one statement with $regex work (a list, its count, a bulk filter) may take;
    # past it the request fails with 400 instead of holding a database connection.
    regex_budget: float = 0.25
    # An aggregation: seconds its statement may take, documents and bytes it may answer with;
    # past any, the request fails with 400 (aggregate.too_slow / aggregate.too_large).
    aggregate_budget: float = 2.0
    aggregate_max_results: int = 1000
    aggregate_max_bytes: int = 4_000_000
    # `expand` of a list or read: records one back-relation brings for each record, and
    # records one answer brings in all (more is 400 records.expand_too_large).
    expand_max_back: int = 100
    expand_max_records: int = 10_000
    cors_origins: tuple[str, ...] = ()
    log_level: str = "info"
    # "text" (one line, for people) or "json" (one object a line, for log collectors); either
    # way a line logged while a request is handled carries its request id.
    log_format: str = "text"
    # When set, GET /metrics needs `Authorization: Bearer <metrics_token>`; when unset it
    # answers loopback clients only.
    metrics_token: str | None = field(default=None, repr=False)
    # Platform servers. Production defaults are the real hosts; `sandbox_url` (or --dev, which
    # runs the sandbox in-process) points every platform at the sandbox instead.
    wechat_url: str = "https://api.weixin.qq.com"
    qq_url: str = "https://api.q.qq.com"
    douyin_url: str = "https://developer.toutiao.com"
    baidu_url: str = "https://spapi.baidu.com"
    alipay_url: str = "https://openapi.alipay.com/gateway.do"
    wechatpay_url: str = "https://api.mch.weixin.qq.com"
    sandbox_url: str | None = None
    platform_timeout: float = 5.0
    # WeChat access tokens from cgi-bin/stable_token (default) or the classic cgi-bin/token.
    wechat_token_api: str = "stable_token"  # noqa: S105 (an API name)
    # Redis (redis://host:6379/0) for what every instance shares: app access tokens and their
    # refresh locks, push nonces, failed sign-in counts, request rate-limit counters. None: kept
    # in the database, which every process shares too (rate-limit counters: in each process).
    cache_url: str | None = None
    # Cloud functions, hooks, schedules and job handlers: the *.py files of this folder.
    functions_dir: Path = Path("functions")
    # Run job workers and the scheduler inside `minibase serve` (`minibase worker` runs them alone).
    run_jobs: bool = True
    job_concurrency: int = 4
    # Seconds a worker holds a job without renewing it; a job whose worker died is taken again
    # after this (renewed every third of it while the handler runs).
    job_lease: float = 30.0
    # Succeeded and cancelled jobs are deleted this many days after they finished (dead ones
    # stay until an admin retries or purges them).
    job_retention_days: int = 7
    scheduler_interval: float = 10.0
    # Realtime: how long committed changes are kept for clients that resume (seconds), how
    # many messages a socket may have waiting before it is closed as too slow, and how often
    # the change log is read when no wake-up came (changes by other processes on SQLite).
    realtime_retention: int = 600
    realtime_queue: int = 1000
    realtime_poll_interval: float = 0.5
    # Refuse decrypted phone data whose watermark is older than this many seconds (None: off).
    phone_max_age: int | None = None
    # Payments. Where the providers reach this server with notifications, e.g.
    # https://api.example.com (None: http://host:port, accepted only in --dev).
    public_url: str | None = None
    # Seconds an unpaid order stays payable (sent as time_expire); then it is closed.
    pay_order_ttl: int = 1800
    # Seconds after which an order or refund with no notification yet is asked about.
    pay_reconcile_after: int = 300
    # WeChat message push: pushes whose timestamp is further than this many seconds from now
    # are refused, and nonces are remembered this long (replays are refused).
    push_window: int = 300
    # Seconds a replying @push handler may take (WeChat gives up on an answer after 5).
    push_reply_timeout: float = 4.0
    # Throttling of guessing (429 auth.too_many_attempts with Retry-After): failed attempts
    # allowed per throttle_window seconds, counted for every instance (in the database, or in
    # Redis with cache_url). 0 turns a limit off.
    throttle_window: int = 900
    admin_login_failures_per_account: int = 5
    admin_login_failures_per_address: int = 20
    refresh_failures_per_address: int = 300
    platform_login_failures_per_address: int = 150
    # Reverse proxies (addresses or networks, e.g. 10.0.0.0/8) whose X-Forwarded-For names the
    # client. Without them the client address is the connection's peer address.
    trusted_proxies: tuple[str, ...] = ()
    # Request rate limits (429 request.rate_limited with Retry-After), per route group:
    # "group=N/unit" entries (unit second, minute or hour) counted per client address and per
    # signed-in user (admins: per admin, in the admin group), in Redis with cache_url (shared
    # by every instance), else in this process. Empty (the default): no limit.
    rate_limits_per_address: tuple[str, ...] = ()
    rate_limits_per_user: tuple[str, ...] = ()
    # Files. Stored under <data_dir>/files, or in an S3-compatible bucket when s3_bucket is set
    # (s3_endpoint like https://s3.ap-shanghai.amazonaws.com or http://127.0.0.1:9000).
    s3_endpoint: str | None = None
    s3_bucket: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    # The largest file a file field takes when it sets no max_size (bytes).
    files_max_size: int = 20 * 1024 * 1024
    # The multipart part an upload's file comes under (wx.uploadFile's `name`).
    files_part_name: str = "file"
    # Seconds a temporary file URL lasts when the caller asks for no other, and at most.
    files_link_seconds: int = 3600
    files_link_max_seconds: int = 7 * 24 * 3600
    # Cache-Control max-age of files anyone may read (served without a signed link).
    files_public_max_age: int = 3600
    # Hours an uploaded file waits to be written into a record before `files gc` removes it.
    files_pending_hours: int = 24
    # On S3 storage, answer a download with a redirect to a presigned URL of the bucket, so the
    # bytes bypass the app servers (the link and the rules are still checked here first).
    files_s3_redirect: bool = False
    # Backups of the embedded SQLite database (docs/backups.md): a cron expression in UTC
    # ("0 3 * * *") for a backup job, run once across processes (None: no scheduled backups);
    # where backups go (a folder, or s3://bucket/prefix with the s3_* settings), also the
    # default of `minibase backup --to`; how many scheduled backups there are kept.
    backup_schedule: str | None = None
    backup_to: str = "backups"
    backup_keep: int = 7
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        """Every setting but the secrets: a repr may end up in a log or a traceback."""
        shown = []
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in _SECRET_SETTINGS and value is not None:
                value = "<secret>"
            elif item.name in _URL_SETTINGS and isinstance(value, str):
                value = _without_password(value)
            elif item.name == "extra":  # the config file's tables: apps hold their secrets
                value = {name: "..." for name in value}
            shown.append(f"{item.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    @property
    def sqlite_path(self) -> Path:
        """<data_dir>/data.db, or the file of a `sqlite:///absolute/path.db` (`sqlite:relative.db`)
        database_url."""
        if self.database_url and self.database_url.startswith("sqlite"):
            return Path(self.database_url.removeprefix("sqlite://").removeprefix("sqlite:"))
        return self.data_dir / "data.db"

    @property
    def local_url(self) -> str:
        """How this server is reached from the machine itself (a wildcard bind: loopback)."""
        wildcard = self.host in ("0.0.0.0", "::", "")  # noqa: S104 (a check, not a bind)
        return f"http://{'127.0.0.1' if wildcard else self.host}:{self.port}"

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url is None or self.database_url.startswith("sqlite")

    def platform_url(self, platform: str) -> str:
        """Where a platform's server API is: the sandbox when one is set, else the real host."""
        if self.sandbox_url:
            suffix = "/gateway.do" if platform == "alipay" else ""
            return f"{self.sandbox_url.rstrip('/')}/{platform}{suffix}"
        url: str = getattr(self, f"{platform}_url")
        return url

    @property
    def should_auto_migrate(self) -> bool:
        if self.auto_migrate is not None:
            return self.auto_migrate
        return self.dev or self.uses_sqlite

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def config_tables(
    settings: Settings, section: str, secret_fields: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The tables of `[[section]]` in the config file. `<secret>_env = "NAME"` reads a secret
    from the environment, so the file can live in git without secrets."""
    raw = settings.extra.get(section, [])
    if not isinstance(raw, list):
        raise ConfigError(f"{section} must be a list of tables ([[{section}]])")
    found = []
    for position, entry in enumerate(raw):
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{section}[{position}] must be a table")
        values = {key: value for key, value in entry.items() if not key.endswith("_env")}
        for key, variable in entry.items():
            if key.endswith("_env"):
                name = key.removesuffix("_env")
                if name not in secret_fields or variable not in os.environ:
                    raise ConfigError(
                        f"{section}[{position}].{key}: no environment variable {variable}"
                    )
                values[name] = os.environ[variable]
        found.append(values)
    return found


def checked_tables(
    settings: Settings,
    section: str,
    secret_fields: tuple[str, ...],
    check: Callable[[dict[str, Any]], dict[str, Any]],
) -> list[dict[str, Any]]:
    """`config_tables`, each checked by `check`: its ApiError stops the start with the entry's
    position (`apps[2]: ...`)."""
    from minibase.errors import ApiError

    found = []
    for position, values in enumerate(config_tables(settings, section, secret_fields)):
        try:
            found.append(check(values))
        except ApiError as exc:
            raise ConfigError(f"{section}[{position}]: {exc.message}") from None
    return found


def env_name(setting: str) -> str:
    return "MINIBASE_" + setting.upper()


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Merge the config file, the environment and explicit overrides (flags) into Settings."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    path = config_file or Path(environ.get("MINIBASE_CONFIG", "minibase.toml"))
    if path.is_file():
        with path.open("rb") as handle:
            document = tomllib.load(handle)
        section = document.get("minibase", document)
        for key, raw in section.items():
            values[key] = raw
    for name in _setting_types():
        if env_name(name) in environ:
            values[name] = environ[env_name(name)]
    for key, raw in (overrides or {}).items():
        if raw is not None:
            values[key] = raw
    return _build(values)


def _setting_types() -> dict[str, Any]:
    hints = get_type_hints(Settings)
    return {f.name: hints[f.name] for f in fields(Settings) if f.name != "extra"}


def _build(values: Mapping[str, Any]) -> Settings:
    types = _setting_types()
    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, raw in values.items():
        if key in types:
            known[key] = _coerce(key, types[key], raw)
        else:
            extra[key] = raw
    settings = Settings(**known, extra=extra)
    _check(settings)
    return settings


def _coerce(name: str, kind: Any, raw: Any) -> Any:
    text = str(raw).strip() if not isinstance(raw, list | tuple | Mapping) else None
    try:
        if kind is bool or kind == (bool | None):
            if isinstance(raw, bool):
                return raw
            if text is None or text.lower() not in _BOOLS:
                raise ValueError("expected true or false")
            return _BOOLS[text.lower()]
        if kind is int:
            if isinstance(raw, bool):
                raise ValueError("expected a whole number")
            return int(raw)
        if kind is float:
            return float(raw)
        if kind == (int | None):
            if name == "workers" and text == "auto":
                return None
            return None if text in ("", "none", "None") else int(raw)
        if kind is Path:
            return Path(str(raw)).expanduser()
        if kind == tuple[str, ...]:
            if isinstance(raw, Mapping):  # a TOML table: key = "value" entries
                return tuple(f"{key}={value}" for key, value in raw.items())
            if isinstance(raw, list | tuple):
                return tuple(str(item) for item in raw)
            return tuple(part.strip() for part in str(raw).split(",") if part.strip())
        if kind == (str | None):
            return text or None
        return text
    except ValueError as exc:
        raise ConfigError(f"setting {name} ({env_name(name)}): {exc}: {raw!r}") from None


_BOOLS = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


def _check(settings: Settings) -> None:
    if not 0 < settings.port < 65536:
        raise ConfigError(f"setting port ({env_name('port')}) must be 1-65535, got {settings.port}")
    if settings.server not in ("granian", "uvicorn"):
        raise ConfigError("setting server (MINIBASE_SERVER) must be granian or uvicorn")
    if settings.database_url and not settings.database_url.startswith(
        ("sqlite", "postgres://", "postgresql://")
    ):
        raise ConfigError("setting database_url must start with postgresql:// or sqlite:")
    for name in ("scheduler_interval", "job_lease", "realtime_poll_interval"):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"setting {name} ({env_name(name)}) must be positive")
    if not 0 <= settings.shutdown_drain <= 600:
        raise ConfigError("setting shutdown_drain (MINIBASE_SHUTDOWN_DRAIN) must be 0-600 seconds")
    if settings.platform_timeout <= 0:
        raise ConfigError("setting platform_timeout (MINIBASE_PLATFORM_TIMEOUT) must be positive")
    if not 0 < settings.push_reply_timeout < 5:
        raise ConfigError(
            "setting push_reply_timeout (MINIBASE_PUSH_REPLY_TIMEOUT) must be 0-5 s:"
            " WeChat waits 5 s for an answer"
        )
    for name in (
        "max_body_bytes",
        "access_token_ttl",
        "refresh_token_ttl",
        "admin_token_ttl",
        "list_default_limit",
        "list_max_limit",
        "bulk_max_records",
        "record_max_name_length",
        "record_max_fields_per_object",
        "record_max_keys",
        "sqlite_readers",
        "job_concurrency",
        "job_retention_days",
        "shutdown_timeout",
        "postgres_pool_size",
        "regex_budget",
        "aggregate_budget",
        "aggregate_max_results",
        "aggregate_max_bytes",
        "expand_max_back",
        "expand_max_records",
        "pay_order_ttl",
        "pay_reconcile_after",
        "push_window",
        "throttle_window",
        "files_max_size",
        "files_link_seconds",
        "files_link_max_seconds",
        "files_public_max_age",
        "files_pending_hours",
        "realtime_retention",
        "realtime_queue",
        "backup_keep",
    ):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"setting {name} ({env_name(name)}) must be positive")
    if settings.workers is not None and settings.workers <= 0:
        raise ConfigError("setting workers (MINIBASE_WORKERS) must be positive, or auto")
    for name in (
        "admin_login_failures_per_account",
        "admin_login_failures_per_address",
        "refresh_failures_per_address",
        "platform_login_failures_per_address",
    ):
        if getattr(settings, name) < 0:
            raise ConfigError(f"setting {name} ({env_name(name)}) must be 0 (off) or more")
    for proxy in settings.trusted_proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ConfigError(
                f"setting trusted_proxies (MINIBASE_TRUSTED_PROXIES): {proxy!r} is not an"
                " address or a network"
            ) from None
    for name in ("rate_limits_per_address", "rate_limits_per_user"):
        rate_limits(settings, name)
    if settings.log_format not in ("text", "json"):
        raise ConfigError("setting log_format (MINIBASE_LOG_FORMAT) must be text or json")
    if settings.wechat_token_api not in ("stable_token", "token"):
        raise ConfigError("setting wechat_token_api must be stable_token or token")
    if settings.cache_url and not settings.cache_url.startswith(("redis://", "rediss://")):
        raise ConfigError("setting cache_url (MINIBASE_CACHE_URL) must start with redis://")
    if settings.public_url and not settings.public_url.startswith(("https://", "http://")):
        raise ConfigError("setting public_url (MINIBASE_PUBLIC_URL) must start with https://")
    if settings.s3_bucket and not (
        settings.s3_endpoint and settings.s3_access_key and settings.s3_secret_key
    ):
        raise ConfigError(
            "setting s3_bucket (MINIBASE_S3_BUCKET) needs s3_endpoint, s3_access_key and"
            " s3_secret_key"
        )
    if settings.s3_endpoint and not settings.s3_endpoint.startswith(("https://", "http://")):
        raise ConfigError("setting s3_endpoint (MINIBASE_S3_ENDPOINT) must start with https://")
    if settings.files_link_seconds > settings.files_link_max_seconds:
        raise ConfigError("files_link_seconds cannot exceed files_link_max_seconds")
    if settings.list_default_limit > settings.list_max_limit:
        raise ConfigError("list_default_limit cannot exceed list_max_limit")
    _check_backups(settings)


def _check_backups(settings: Settings) -> None:
    if settings.backup_schedule is None:
        return
    from minibase.functions.cron import Cron, CronError

    try:
        Cron.parse(settings.backup_schedule)
    except CronError as exc:
        raise ConfigError(f"setting backup_schedule (MINIBASE_BACKUP_SCHEDULE): {exc}") from None
    if not settings.uses_sqlite:
        raise ConfigError(
            "setting backup_schedule backs up the embedded SQLite database; on PostgreSQL"
            " schedule pg_dump instead (docs/backups.md)"
        )

"""The mini-program apps minibase signs users in for: several per platform, secrets sealed.

An app is registered through the admin API or the config file (`[[apps]]` in minibase.toml).
Its secrets (app secret, Alipay private key, content key, WeChat's message-push token and
EncodingAESKey) are encrypted at rest with the vault
and never returned; every process caches the apps and re-reads them when `apps_version` moves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from minibase.clock import Clock, isoformat
from minibase.config import Settings, checked_tables
from minibase.errors import ApiError
from minibase.ids import IdGenerator
from minibase.platforms import PLATFORMS, AppCredentials, PlatformError
from minibase.platforms.alipay import crypto as alipay_crypto
from minibase.platforms.wechat import push
from minibase.store.catalog import SealedCatalog
from minibase.store.database import Connection, Database, IntegrityViolation
from minibase.store.versions import bump
from minibase.vault import Vault

VERSION_KEY = "apps_version"
APPID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
SECRET_FIELDS = (
    "secret",
    "private_key",
    "alipay_public_key",
    "aes_key",
    "push_token",
    "push_aes_key",
)
_FIELDS = frozenset({"platform", "appid", "name", "account", *SECRET_FIELDS})
_NEEDS_SECRET = frozenset({"wechat", "qq", "douyin", "baidu"})


@dataclass(frozen=True)
class PlatformApp:
    id: str
    platform: str
    appid: str
    name: str
    account: str | None
    credentials: AppCredentials = field(repr=False)
    created: str
    updated: str

    def matches(self, values: Mapping[str, Any]) -> bool:
        """Does this app already hold exactly these values (secrets included)?"""
        mine = {"name": self.name, "account": self.account, **_secret_values(self.credentials)}
        return all(
            mine.get(key) == value
            for key, value in values.items()
            if key not in ("platform", "appid")
        )

    def public(self) -> dict[str, Any]:
        """What admins see: never a secret, only whether each one is set."""
        creds = self.credentials
        return {
            "id": self.id,
            "platform": self.platform,
            "appid": self.appid,
            "name": self.name,
            "account": self.account,
            "has_secret": creds.secret is not None,
            "has_private_key": creds.private_key is not None,
            "has_alipay_public_key": creds.platform_public_key is not None,
            "has_aes_key": creds.aes_key is not None,
            "has_push_token": creds.push_token is not None,
            "has_push_aes_key": creds.push_aes_key is not None,
            "created": self.created,
            "updated": self.updated,
        }


def _invalid(message: str) -> ApiError:
    return ApiError("apps.invalid", 400, message)


def check_app(body: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """The fields of an app definition, checked; secrets stay strings until sealed."""
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise _invalid(f"unknown fields {unknown}; an app has {sorted(_FIELDS)}")
    for key, value in body.items():
        if value is not None and not isinstance(value, str):
            raise _invalid(f"{key} must be a string")
    values = {key: value for key, value in body.items() if value is not None}
    if not partial:
        if values.get("platform") not in PLATFORMS:
            raise _invalid(f"platform must be one of {', '.join(PLATFORMS)}")
        if not APPID.fullmatch(values.get("appid", "")):
            raise _invalid(f"appid must match {APPID.pattern}")
    return values


def _check_credentials(platform: str, credentials: AppCredentials) -> None:
    if platform in _NEEDS_SECRET and not credentials.secret:
        raise _invalid(f"a {platform} app needs its secret")
    if platform == "alipay" and not credentials.private_key:
        raise _invalid("an alipay app needs its private_key (PEM)")
    pushes = credentials.push_token is not None or credentials.push_aes_key is not None
    if pushes and platform != "wechat":
        raise _invalid("message push (push_token, push_aes_key) is for wechat apps")
    if credentials.push_aes_key is not None:
        if not credentials.push_token:
            raise _invalid("push_aes_key needs the push_token that signs the pushes")
        try:
            push.aes_key(credentials.push_aes_key)
        except PlatformError as exc:
            raise _invalid(f"push_aes_key: {exc.message}") from None
    try:
        if credentials.private_key is not None:
            alipay_crypto.load_private_key(credentials.private_key)
        if credentials.platform_public_key is not None:
            alipay_crypto.load_public_key(credentials.platform_public_key)
    except PlatformError as exc:
        raise _invalid(f"{exc.message}: give an RSA key as PEM or the console's base64") from None


def _credentials(platform: str, appid: str, values: Mapping[str, Any]) -> AppCredentials:
    return AppCredentials(
        platform=platform,
        appid=appid,
        secret=values.get("secret"),
        private_key=values.get("private_key"),
        platform_public_key=values.get("alipay_public_key"),
        aes_key=values.get("aes_key"),
        push_token=values.get("push_token"),
        push_aes_key=values.get("push_aes_key"),
    )


def _sealed_context(platform: str, appid: str) -> str:
    return f"minibase/app/{platform}/{appid}"


class AppRegistry(SealedCatalog[tuple[str, str], PlatformApp]):
    def __init__(self, db: Database, vault: Vault, check_interval: float = 1.0) -> None:
        super().__init__(db, vault, VERSION_KEY, check_interval)

    async def _read(self) -> dict[tuple[str, str], PlatformApp]:
        rows = await self._db.fetch_all(
            "SELECT id, platform, appid, name, account, credentials, created, updated"
            " FROM platform_apps ORDER BY platform, appid"
        )
        apps = {}
        for row in rows:
            secrets = self.open_secrets(row[5], _sealed_context(row[1], row[2]))
            app = PlatformApp(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                _credentials(row[1], row[2], secrets),
                row[6],
                row[7],
            )
            apps[(app.platform, app.appid)] = app
        return apps

    async def get(self, platform: str, appid: str) -> PlatformApp:
        app = await self.lookup((platform, appid))
        if app is None:
            raise ApiError("apps.not_found", 404, f"no {platform} app {appid!r} is registered here")
        return app

    def seal(self, platform: str, appid: str, credentials: AppCredentials) -> str:
        return self.seal_secrets(_secret_values(credentials), _sealed_context(platform, appid))


async def save_app(
    conn: Connection,
    registry: AppRegistry,
    clock: Clock,
    ids: IdGenerator,
    values: Mapping[str, Any],
    current: PlatformApp | None = None,
) -> PlatformApp:
    """Insert an app, or change `current` (given fields replace, secrets included)."""
    now = isoformat(clock.now())
    platform = current.platform if current else values["platform"]
    appid = current.appid if current else values["appid"]
    old = _secret_values(current.credentials) if current else {}
    merged = {**old, **{k: v for k, v in values.items() if k in SECRET_FIELDS}}
    credentials = _credentials(platform, appid, merged)
    _check_credentials(platform, credentials)
    app = PlatformApp(
        id=current.id if current else ids.new(),
        platform=platform,
        appid=appid,
        name=values.get("name", current.name if current else appid),
        account=values.get("account", current.account if current else None),
        credentials=credentials,
        created=current.created if current else now,
        updated=now,
    )
    sealed = registry.seal(platform, appid, credentials)
    if current is None:
        try:
            await conn.execute(
                "INSERT INTO platform_apps (id, platform, appid, name, account, credentials,"
                " options, created, updated)"
                f" VALUES (?, ?, ?, ?, ?, ?, {conn.dialect.json_param()}, ?, ?)",
                app.id,
                platform,
                appid,
                app.name,
                app.account,
                sealed,
                "{}",
                now,
                now,
            )
        except IntegrityViolation:
            raise ApiError("apps.exists", 409, f"the {platform} app {appid} exists") from None
    else:
        await conn.execute(
            "UPDATE platform_apps SET name = ?, account = ?, credentials = ?, updated = ?"
            " WHERE id = ?",
            app.name,
            app.account,
            sealed,
            now,
            app.id,
        )
    await bump(conn, VERSION_KEY)
    return app


async def delete_app(conn: Connection, app: PlatformApp) -> None:
    await conn.execute("DELETE FROM platform_apps WHERE id = ?", app.id)
    await bump(conn, VERSION_KEY)


def _secret_values(credentials: AppCredentials) -> dict[str, str]:
    pairs = (
        ("secret", credentials.secret),
        ("private_key", credentials.private_key),
        ("alipay_public_key", credentials.platform_public_key),
        ("aes_key", credentials.aes_key),
        ("push_token", credentials.push_token),
        ("push_aes_key", credentials.push_aes_key),
    )
    return {name: value for name, value in pairs if value is not None}


def configured_apps(settings: Settings) -> list[dict[str, Any]]:
    """`[[apps]]` of the config file, checked (secrets may come from the environment)."""
    return checked_tables(settings, "apps", SECRET_FIELDS, check_app)


async def apply_configured_apps(
    db: Database, registry: AppRegistry, clock: Clock, ids: IdGenerator, settings: Settings
) -> None:
    """Create or update the config file's apps at start (the admin API may add more)."""

    async def save(conn: Connection, values: dict[str, Any], current: PlatformApp | None) -> None:
        await save_app(conn, registry, clock, ids, values, current)

    await registry.apply(
        configured_apps(settings),
        lambda values: (values["platform"], values["appid"]),
        lambda values: f"app {values['platform']}/{values['appid']}",
        save,
    )

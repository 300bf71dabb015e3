"""WeChat Pay merchants: the mchid, the API certificate's serial and private key, the APIv3 key,
WeChat Pay's platform keys (certificates, or the WeChat Pay public key under its PUB_KEY_ID),
and the mini-program apps that take payments through it.

A merchant is registered through the admin API or the config file (`[[merchants]]` in
minibase.toml). The private key and the APIv3 key are sealed with the vault and never returned.
Alipay needs no merchant of its own: an Alipay app's keys (minibase.auth.apps) sign its trades.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from minibase.clock import Clock, isoformat
from minibase.config import Settings, checked_tables
from minibase.errors import ApiError
from minibase.ids import IdGenerator
from minibase.platforms import rsa
from minibase.platforms.errors import PlatformError
from minibase.platforms.wechatpay import Merchant
from minibase.store.catalog import SealedCatalog
from minibase.store.database import Connection, Database, IntegrityViolation, json_column
from minibase.store.versions import bump
from minibase.vault import Vault

VERSION_KEY = "pay_merchants_version"
MCHID = re.compile(r"[A-Za-z0-9_-]{1,32}")
APPID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
SERIAL = re.compile(r"[A-Za-z0-9_-]{1,64}")
SECRET_FIELDS = ("private_key", "api_v3_key")
_FIELDS = frozenset({"mchid", "name", "appids", "serial_no", "platform_keys", *SECRET_FIELDS})


@dataclass(frozen=True)
class PayMerchant:
    id: str
    mchid: str
    name: str
    appids: tuple[str, ...]
    keys: Merchant = field(repr=False)
    created: str
    updated: str

    def matches(self, values: Mapping[str, Any]) -> bool:
        """Does this merchant already hold exactly these values (secrets included)?"""
        mine = _values(self)
        return all(mine.get(key) == _comparable(key, value) for key, value in values.items())

    def public(self) -> dict[str, Any]:
        """What admins see: never a secret, only whether each one is set."""
        return {
            "id": self.id,
            "mchid": self.mchid,
            "name": self.name,
            "appids": list(self.appids),
            "serial_no": self.keys.serial_no,
            "platform_serials": sorted(self.keys.platform_keys),
            "has_private_key": bool(self.keys.private_key),
            "has_api_v3_key": bool(self.keys.api_v3_key),
            "created": self.created,
            "updated": self.updated,
        }


def _comparable(key: str, value: Any) -> Any:
    if key == "appids":
        return tuple(value)
    if key == "platform_keys":
        return dict(value)
    return value


def _values(merchant: PayMerchant) -> dict[str, Any]:
    keys = merchant.keys
    return {
        "mchid": merchant.mchid,
        "name": merchant.name,
        "appids": merchant.appids,
        "serial_no": keys.serial_no,
        "platform_keys": dict(keys.platform_keys),
        "private_key": keys.private_key,
        "api_v3_key": keys.api_v3_key,
    }


def _invalid(message: str) -> ApiError:
    return ApiError("pay.invalid_merchant", 400, message)


def check_merchant(body: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    """The fields of a merchant definition, checked one by one."""
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise _invalid(f"unknown fields {unknown}; a merchant has {sorted(_FIELDS)}")
    values = {key: value for key, value in body.items() if value is not None}
    for key in ("mchid", "name", "serial_no", *SECRET_FIELDS):
        if key in values and not isinstance(values[key], str):
            raise _invalid(f"{key} must be a string")
    if "appids" in values:
        appids = values["appids"]
        if not isinstance(appids, list) or not all(
            isinstance(appid, str) and APPID.fullmatch(appid) for appid in appids
        ):
            raise _invalid(f"appids must be a list of app ids matching {APPID.pattern}")
        values["appids"] = list(dict.fromkeys(appids))
    if "platform_keys" in values:
        keys = values["platform_keys"]
        if not isinstance(keys, Mapping) or not all(
            isinstance(serial, str) and SERIAL.fullmatch(serial) and isinstance(pem, str)
            for serial, pem in keys.items()
        ):
            raise _invalid(
                "platform_keys maps each platform certificate serial (or PUB_KEY_ID_...) to its"
                " PEM certificate or public key"
            )
        for serial, pem in keys.items():
            try:
                rsa.load_public_key(pem, platform="wechatpay")
            except PlatformError:
                raise _invalid(
                    f"platform_keys[{serial!r}] is not an RSA key or certificate"
                ) from None
        values["platform_keys"] = dict(keys)
    if "serial_no" in values and not SERIAL.fullmatch(values["serial_no"]):
        raise _invalid(f"serial_no must match {SERIAL.pattern}")
    if "api_v3_key" in values and len(values["api_v3_key"].encode()) != 32:
        raise _invalid("api_v3_key must be the 32 characters set in the merchant platform")
    if "private_key" in values:
        try:
            rsa.load_private_key(values["private_key"], platform="wechatpay")
        except PlatformError:
            raise _invalid(
                "private_key is not an RSA private key (PEM, apiclient_key.pem)"
            ) from None
    if not partial:
        if not MCHID.fullmatch(str(values.get("mchid", ""))):
            raise _invalid(f"mchid must match {MCHID.pattern}")
        missing = [key for key in ("serial_no", *SECRET_FIELDS) if key not in values]
        if missing:
            raise _invalid(f"a merchant needs {', '.join(missing)}")
    return values


def _sealed_context(mchid: str) -> str:
    return f"minibase/pay/merchant/{mchid}"


class MerchantRegistry(SealedCatalog[str, PayMerchant]):
    def __init__(self, db: Database, vault: Vault, check_interval: float = 1.0) -> None:
        super().__init__(db, vault, VERSION_KEY, check_interval)

    async def _read(self) -> dict[str, PayMerchant]:
        rows = await self._db.fetch_all(
            "SELECT id, mchid, name, appids, serial_no, platform_keys, credentials, created,"
            " updated FROM pay_merchants ORDER BY mchid"
        )
        found = {}
        for row in rows:
            secrets = self.open_secrets(row[6], _sealed_context(row[1]))
            keys = Merchant(
                mchid=row[1],
                serial_no=row[4],
                private_key=secrets["private_key"],
                api_v3_key=secrets["api_v3_key"],
                platform_keys=json_column(row[5]),
            )
            found[row[1]] = PayMerchant(
                row[0], row[1], row[2], tuple(json_column(row[3])), keys, row[7], row[8]
            )
        return found

    async def get(self, mchid: str) -> PayMerchant:
        merchant = await self.lookup(mchid)
        if merchant is None:
            raise ApiError("pay.merchant_not_found", 404, f"no WeChat Pay merchant {mchid!r}")
        return merchant

    async def for_app(self, appid: str) -> list[PayMerchant]:
        return [merchant for merchant in await self.all() if appid in merchant.appids]


async def save_merchant(
    conn: Connection,
    registry: MerchantRegistry,
    clock: Clock,
    ids: IdGenerator,
    values: Mapping[str, Any],
    current: PayMerchant | None = None,
) -> PayMerchant:
    """Insert a merchant, or change `current` (given fields replace, keys included)."""
    now = isoformat(clock.now())
    merged = {**(_values(current) if current else {}), **values}
    mchid = current.mchid if current else merged["mchid"]
    keys = Merchant(
        mchid=mchid,
        serial_no=merged["serial_no"],
        private_key=merged["private_key"],
        api_v3_key=merged["api_v3_key"],
        platform_keys=dict(merged.get("platform_keys", {})),
    )
    merchant = PayMerchant(
        id=current.id if current else ids.new(),
        mchid=mchid,
        name=merged.get("name") or mchid,
        appids=tuple(merged.get("appids", ())),
        keys=keys,
        created=current.created if current else now,
        updated=now,
    )
    sealed = registry.seal_secrets(
        {"private_key": keys.private_key, "api_v3_key": keys.api_v3_key}, _sealed_context(mchid)
    )
    json = conn.dialect.json_param()
    appids = orjson.dumps(list(merchant.appids)).decode()
    platform_keys = orjson.dumps(dict(keys.platform_keys)).decode()
    if current is None:
        try:
            await conn.execute(
                "INSERT INTO pay_merchants (id, mchid, name, appids, serial_no, platform_keys,"
                f" credentials, created, updated) VALUES (?, ?, ?, {json}, ?, {json}, ?, ?, ?)",
                merchant.id,
                mchid,
                merchant.name,
                appids,
                keys.serial_no,
                platform_keys,
                sealed,
                now,
                now,
            )
        except IntegrityViolation:
            raise ApiError("pay.merchant_exists", 409, f"merchant {mchid} exists") from None
    else:
        await conn.execute(
            f"UPDATE pay_merchants SET name = ?, appids = {json}, serial_no = ?,"
            f" platform_keys = {json}, credentials = ?, updated = ? WHERE id = ?",
            merchant.name,
            appids,
            keys.serial_no,
            platform_keys,
            sealed,
            now,
            merchant.id,
        )
    await bump(conn, VERSION_KEY)
    return merchant


async def delete_merchant(conn: Connection, merchant: PayMerchant) -> None:
    await conn.execute("DELETE FROM pay_merchants WHERE id = ?", merchant.id)
    await bump(conn, VERSION_KEY)


def configured_merchants(settings: Settings) -> list[dict[str, Any]]:
    """`[[merchants]]` of the config file, checked (`private_key_env = "NAME"` and
    `api_v3_key_env` read the secrets from the environment)."""
    return checked_tables(settings, "merchants", SECRET_FIELDS, check_merchant)


async def apply_configured_merchants(
    db: Database, registry: MerchantRegistry, clock: Clock, ids: IdGenerator, settings: Settings
) -> None:
    """Create or update the config file's merchants at start (the admin API may add more)."""

    async def save(conn: Connection, values: dict[str, Any], current: PayMerchant | None) -> None:
        await save_merchant(conn, registry, clock, ids, values, current)

    await registry.apply(
        configured_merchants(settings),
        lambda values: values["mchid"],
        lambda values: f"merchant {values['mchid']}",
        save,
    )

"""--dev: the in-process sandbox learns every registered app and WeChat Pay merchant; Alipay
apps and merchants get the sandbox's platform keys, so login and payments work offline at once.
A WeChat app with a push token has its message server set to this server's push endpoint (safe
mode when it has an EncodingAESKey), as a team would enter it in the mini program console."""

from __future__ import annotations

import secrets
from typing import Any

from minibase.auth.apps import PlatformApp, save_app
from minibase.pay.merchants import PayMerchant, save_merchant
from minibase.platforms.alipay import crypto as alipay_crypto
from minibase.services import Services


def with_dev_credentials(values: dict[str, Any]) -> dict[str, Any]:
    """In --dev an app needs no real credentials: missing ones are made up (the sandbox gets
    the same ones), so `{"platform": "alipay", "appid": "2021..."}` is enough."""
    filled = dict(values)
    if filled.get("platform") == "alipay":
        if "private_key" not in filled:
            filled["private_key"] = alipay_crypto.generate_rsa_keypair()[0]
    else:
        filled.setdefault("secret", secrets.token_hex(16))
    return filled


def public_key_of(private_key: str) -> str:
    from cryptography.hazmat.primitives import serialization

    key = alipay_crypto.load_private_key(private_key).public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


async def register_app_in_sandbox(services: Services, app: PlatformApp) -> None:
    creds = app.credentials
    answer = services.sandbox.register_app(
        app.platform,
        app.appid,
        secret=creds.secret,
        account=app.account,
        app_public_key=public_key_of(creds.private_key) if creds.private_key else None,
        aes_key=creds.aes_key,
    )
    if app.platform == "wechat" and creds.push_token:
        # no URL check: at startup this server does not listen yet
        await services.sandbox.wechat_push.configure(
            app.appid,
            f"{services.settings.local_url}/api/push/wechat/{app.appid}",
            creds.push_token,
            encoding_aes_key=creds.push_aes_key,
            mode="safe" if creds.push_aes_key else "plaintext",
            verify=False,
        )
    if app.platform != "alipay":
        return
    wanted = {"alipay_public_key": answer["alipay_public_key"], "aes_key": answer["aes_key"]}
    if wanted != {"alipay_public_key": creds.platform_public_key, "aes_key": creds.aes_key}:
        async with services.db.transaction() as conn:
            await save_app(conn, services.apps, services.clock, services.ids, wanted, app)
        await services.apps.load()


def with_dev_merchant_keys(values: dict[str, Any]) -> dict[str, Any]:
    """In --dev a merchant needs only its mchid (and its appids): keys are made up."""
    filled = dict(values)
    if "private_key" not in filled:
        filled["private_key"] = alipay_crypto.generate_rsa_keypair()[0]
    filled.setdefault("serial_no", secrets.token_hex(20).upper())
    filled.setdefault("api_v3_key", secrets.token_hex(16))
    return filled


async def register_merchant_in_sandbox(services: Services, merchant: PayMerchant) -> None:
    keys = merchant.keys
    answer = services.sandbox.wechatpay.register_merchant(
        merchant.mchid, public_key_of(keys.private_key), keys.serial_no, keys.api_v3_key
    )
    serial, key = answer["platform_serial"], answer["platform_public_key"]
    if keys.platform_keys.get(serial) != key:
        wanted = {"platform_keys": {**keys.platform_keys, serial: key}}
        async with services.db.transaction() as conn:
            await save_merchant(
                conn, services.merchants, services.clock, services.ids, wanted, merchant
            )
        await services.merchants.load()


async def register_apps_in_sandbox(services: Services) -> None:
    for app in await services.apps.all():
        await register_app_in_sandbox(services, app)
    for merchant in await services.merchants.all():
        await register_merchant_in_sandbox(services, merchant)

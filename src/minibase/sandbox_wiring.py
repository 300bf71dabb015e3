"""--dev: the in-process sandbox learns every registered app, and Alipay apps get the sandbox's
platform key, so the whole login flow works offline at once."""

from __future__ import annotations

import secrets
from typing import Any

from minibase.auth.apps import PlatformApp, save_app
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
    if app.platform != "alipay":
        return
    wanted = {"alipay_public_key": answer["alipay_public_key"], "aes_key": answer["aes_key"]}
    if wanted != {"alipay_public_key": creds.platform_public_key, "aes_key": creds.aes_key}:
        async with services.db.transaction() as conn:
            await save_app(conn, services.apps, services.clock, services.ids, wanted, app)
        await services.apps.load()


async def register_apps_in_sandbox(services: Services) -> None:
    for app in await services.apps.all():
        await register_app_in_sandbox(services, app)

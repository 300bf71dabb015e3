"""Where the platforms are, apps from the config file, and the optional freshness limit."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from tests.http.login.conftest import bearer, sign_in

from minibase.app import create_app
from minibase.auth.identities import session_key_context
from minibase.config import ConfigError, Settings, load_settings
from minibase.platforms.wechat import crypto as wechat_crypto
from minibase.services import Services, open_services
from minibase.testing.plugin import RegisterApp
from minibase.testing.sandbox import SandboxClient


def test_production_defaults_are_the_real_hosts_and_a_sandbox_replaces_them_all() -> None:
    real = Settings()
    assert real.platform_url("wechat") == "https://api.weixin.qq.com"
    assert real.platform_url("alipay") == "https://openapi.alipay.com/gateway.do"
    assert real.platform_url("douyin") == "https://developer.toutiao.com"
    faked = Settings(sandbox_url="http://127.0.0.1:9000/")
    assert faked.platform_url("wechat") == "http://127.0.0.1:9000/wechat"
    assert faked.platform_url("alipay") == "http://127.0.0.1:9000/alipay/gateway.do"
    assert Settings(qq_url="https://q.example").platform_url("qq") == "https://q.example"


async def test_apps_of_the_config_file_are_registered_at_start_with_secrets_from_the_env(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = tmp_path / "minibase.toml"
    config.write_text(
        '[[apps]]\nplatform = "wechat"\nappid = "wxfromfile"\naccount = "acme"\n'
        'secret_env = "SHOP_SECRET"\n'
    )
    monkeypatch.setenv("SHOP_SECRET", "from-the-environment")
    loaded = load_settings(config_file=config, environ={})
    configured = settings.replace(extra=loaded.extra)
    services = await open_services(configured)
    try:
        app = await services.apps.get("wechat", "wxfromfile")
        assert app.credentials.secret == "from-the-environment"
        assert app.account == "acme"
    finally:
        await services.close()
    monkeypatch.delenv("SHOP_SECRET")
    with pytest.raises(ConfigError, match="SHOP_SECRET"):
        await open_services(configured)


async def test_stale_encrypted_phone_data_is_refused_when_a_freshness_limit_is_set(
    settings: Settings,
    services: Services,
    sandbox: SandboxClient,
    register_app: RegisterApp,
) -> None:
    await register_app("wechat", "wx1111")
    strict = create_app(settings.replace(phone_max_age=60), services=services)
    services.settings = strict.settings
    transport = httpx.ASGITransport(app=strict)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        session = await sign_in(client, sandbox, "wechat", "wx1111", "ann")
        sealed, openid = await services.db.fetch_one(
            "SELECT session_key, openid FROM user_identities"
        )
        key = services.vault.open(sealed, session_key_context("wechat", "wx1111", openid))
        phone = {
            "phoneNumber": "13800138000",
            "purePhoneNumber": "13800138000",
            "countryCode": "86",
        }
        for age, status in ((3600, 400), (5, 200)):
            encrypted, iv = wechat_crypto.encrypt_user_data(
                key.reveal(), phone, "wx1111", timestamp=int(time.time()) - age
            )
            answer = await client.post(
                "/api/auth/phone",
                headers=bearer(session),
                json={"encrypted_data": encrypted, "iv": iv},
            )
            assert answer.status_code == status, answer.text

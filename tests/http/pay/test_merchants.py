"""WeChat Pay merchants, as admins and the config file register them: keys go in, are sealed at
rest, and never come out. Orders need a merchant for their app, a platform that pays, and a
public_url the providers can reach."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.http.login.conftest import sign_in
from tests.http.pay.conftest import Shop, register_merchant

from minibase.config import ConfigError, Settings
from minibase.log import configure_logging
from minibase.pay.merchants import configured_merchants
from minibase.platforms import rsa
from minibase.services import Services, open_services
from minibase.testing.plugin import Actor, RegisterApp
from minibase.testing.sandbox import SandboxClient

PRIVATE_KEY, PUBLIC_KEY = rsa.generate_keypair()


def _merchant(**changes: Any) -> dict[str, Any]:
    return {
        "mchid": "1900000109",
        "appids": ["wx-coffee"],
        "serial_no": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        "private_key": PRIVATE_KEY,
        "api_v3_key": "a" * 32,
        "platform_keys": {"PUB_KEY_ID_0119000001": PUBLIC_KEY},
        **changes,
    }


async def test_a_merchant_is_registered_and_its_keys_are_never_returned(
    http: httpx.AsyncClient, admin: Actor, services: Services
) -> None:
    created = await http.post("/api/admin/pay/merchants", json=_merchant(), headers=admin.headers)
    assert created.status_code == 201, created.text
    shown = created.json()
    assert shown["has_private_key"]
    assert shown["has_api_v3_key"]
    assert shown["platform_serials"] == ["PUB_KEY_ID_0119000001"]
    for response in (
        created,
        await http.get("/api/admin/pay/merchants", headers=admin.headers),
        await http.get("/api/admin/pay/merchants/1900000109", headers=admin.headers),
    ):
        assert "PRIVATE KEY" not in response.text
        assert "a" * 32 not in response.text
    stored = await services.db.fetch_value("SELECT credentials FROM pay_merchants")
    assert "PRIVATE KEY" not in stored
    assert "a" * 32 not in stored


async def test_a_merchant_is_changed_and_removed(
    http: httpx.AsyncClient, admin: Actor, services: Services
) -> None:
    await http.post("/api/admin/pay/merchants", json=_merchant(), headers=admin.headers)
    changed = await http.patch(
        "/api/admin/pay/merchants/1900000109",
        json={"appids": ["wx-coffee", "wx-tea"], "api_v3_key": "b" * 32},
        headers=admin.headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["appids"] == ["wx-coffee", "wx-tea"]
    merchant = await services.merchants.get("1900000109")
    assert merchant.keys.api_v3_key == "b" * 32
    assert merchant.keys.private_key == PRIVATE_KEY  # kept: not in the change
    removed = await http.delete("/api/admin/pay/merchants/1900000109", headers=admin.headers)
    assert removed.status_code == 204
    gone = await http.get("/api/admin/pay/merchants/1900000109", headers=admin.headers)
    assert gone.status_code == 404
    assert gone.json()["code"] == "pay.merchant_not_found"


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"private_key": "not a key"}, "private_key"),
        ({"api_v3_key": "short"}, "api_v3_key"),
        ({"platform_keys": {"PUB_KEY_ID_1": "nope"}}, "platform_keys"),
        ({"appids": "wx-coffee"}, "appids"),
        ({"mchid": ""}, "mchid"),
        ({"mchid": None}, "mchid"),
        ({"appids": None, "name": None, "mchid": 1900000109}, "mchid"),
        ({"serial_no": None}, "serial_no"),
        ({"colour": "red"}, "unknown fields"),
    ],
)
async def test_a_broken_merchant_is_refused_and_nothing_is_stored(
    http: httpx.AsyncClient,
    admin: Actor,
    services: Services,
    changes: dict[str, Any],
    says: str,
) -> None:
    response = await http.post(
        "/api/admin/pay/merchants", json=_merchant(**changes), headers=admin.headers
    )
    assert response.status_code == 400
    assert response.json()["code"] == "pay.invalid_merchant"
    assert says in response.json()["message"]
    assert await services.db.fetch_value("SELECT COUNT(*) FROM pay_merchants") == 0


async def test_the_same_mchid_twice_is_a_conflict_and_users_cannot_see_merchants(
    http: httpx.AsyncClient, admin: Actor, make_user: Any
) -> None:
    await http.post("/api/admin/pay/merchants", json=_merchant(), headers=admin.headers)
    again = await http.post("/api/admin/pay/merchants", json=_merchant(), headers=admin.headers)
    assert again.status_code == 409
    assert again.json()["code"] == "pay.merchant_exists"
    user = await make_user()
    assert (await http.get("/api/admin/pay/merchants", headers=user.headers)).status_code == 403


async def test_merchants_of_the_config_file_are_applied_at_start(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_WECHATPAY_KEY", PRIVATE_KEY)
    entry = _merchant()
    del entry["private_key"]
    entry["private_key_env"] = "SHOP_WECHATPAY_KEY"
    configured = settings.replace(extra={"merchants": [entry]})
    for _ in range(2):  # a second start finds it unchanged
        opened = await open_services(configured)
        try:
            merchant = await opened.merchants.get("1900000109")
            assert merchant.keys.private_key == PRIVATE_KEY
            assert merchant.appids == ("wx-coffee",)
        finally:
            await opened.close()


def test_a_broken_config_merchant_stops_the_start_with_its_position(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, extra={"merchants": [_merchant(api_v3_key="x")]})
    with pytest.raises(ConfigError, match=r"merchants\[0\]: api_v3_key"):
        configured_merchants(settings)
    missing = Settings(data_dir=tmp_path, extra={"merchants": [{"private_key_env": "NOPE_X"}]})
    with pytest.raises(ConfigError, match="no environment variable NOPE_X"):
        configured_merchants(missing)


async def test_an_app_without_a_merchant_cannot_take_orders(
    http: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp
) -> None:
    await register_app("wechat", "wx-lonely")
    session = await sign_in(http, sandbox, "wechat", "wx-lonely", "bob")
    response = await http.post(
        "/api/pay/orders",
        json={"product": "coffee", "amount": 100, "idempotency_key": "k"},
        headers={"Authorization": f"Bearer {session['access_token']}"},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "pay.no_merchant"


async def test_a_user_of_a_platform_that_does_not_pay_here_is_told_so(
    http: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp, make_user: Any
) -> None:
    await register_app("douyin", "tt-coffee")
    session = await sign_in(http, sandbox, "douyin", "tt-coffee", "carol")
    response = await http.post(
        "/api/pay/orders",
        json={"product": "coffee", "amount": 100, "idempotency_key": "k"},
        headers={"Authorization": f"Bearer {session['access_token']}"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "pay.unsupported_platform"
    unsigned = await http.post("/api/pay/orders", json={})
    assert unsigned.status_code == 401


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"amount": 100, "idempotency_key": "k"}, "product"),
        ({"product": "coffee", "amount": 100}, "idempotency_key"),
        ({"product": "coffee", "amount": 0, "idempotency_key": "k"}, "amount"),
        ({"product": "coffee", "amount": 1.5, "idempotency_key": "k"}, "amount"),
        # past what the orders table holds (a 32-bit integer of fen)
        ({"product": "coffee", "amount": 2**31, "idempotency_key": "k"}, "amount"),
        ({"product": "coffee", "amount": True, "idempotency_key": "k"}, "amount"),
        ({"product": "coffee", "amount": 100, "idempotency_key": "k", "price": 1}, "unknown"),
        ({"product": "x" * 129, "amount": 100, "idempotency_key": "k"}, "product"),
    ],
)
async def test_a_bad_order_is_refused_with_what_is_wrong(
    http: httpx.AsyncClient,
    wechat_shop: Shop,
    services: Services,
    body: dict[str, Any],
    says: str,
) -> None:
    response = await http.post("/api/pay/orders", json=body, headers=wechat_shop.buyer_headers)
    assert response.status_code == 400
    assert response.json()["code"] == "pay.invalid_order"
    assert says in response.json()["message"]
    assert await services.db.fetch_value("SELECT COUNT(*) FROM pay_orders") == 0


async def test_without_public_url_orders_are_refused(
    http: httpx.AsyncClient, wechat_shop: Shop, services: Services
) -> None:
    services.settings = services.settings.replace(public_url=None)
    response = await wechat_shop.order(http)
    assert response.status_code == 503
    assert response.json()["code"] == "pay.not_configured"
    assert await services.db.fetch_value("SELECT COUNT(*) FROM pay_orders") == 0


async def test_a_whole_purchase_at_debug_level_logs_no_merchant_key(
    http: httpx.AsyncClient,
    sandbox: SandboxClient,
    admin: Actor,
    register_app: RegisterApp,
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure_logging("debug")
    caplog.set_level(logging.DEBUG)
    await register_app("wechat", "wx-quiet")
    keys = await register_merchant(http, sandbox, admin, "1900000222", ["wx-quiet"])
    session = await sign_in(http, sandbox, "wechat", "wx-quiet", "dan")
    headers = {"Authorization": f"Bearer {session['access_token']}"}
    placed = await http.post(
        "/api/pay/orders",
        json={"product": "coffee", "amount": 100, "idempotency_key": "k"},
        headers=headers,
    )
    out_trade_no = placed.json()["order"]["out_trade_no"]
    await sandbox.wechatpay_pay("1900000222", out_trade_no, forge=True)
    await sandbox.wechatpay_notify("1900000222", out_trade_no)
    await http.post(
        f"/api/admin/pay/orders/{placed.json()['order']['id']}/refunds",
        json={"amount": 100},
        headers=admin.headers,
    )
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "refused a wechatpay notification" in text  # the forged one was logged
    key_body = keys["private_key"].splitlines()[1]
    assert key_body not in text
    assert keys["api_v3_key"] not in text
    assert placed.json()["payment"]["paySign"] not in text

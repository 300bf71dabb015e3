"""Secrets never reach a log: app secrets and login codes travel in platform URLs, and the
session key in platform answers; a whole login at DEBUG level must show none of them."""

from __future__ import annotations

import io
import json
import logging

import httpx
import pytest

from minibase.config import Settings
from minibase.log import MinibaseHandler, RedactQueries, configure_logging
from minibase.platforms.wechat.push import PushCrypto, new_encoding_aes_key
from minibase.services import Services
from minibase.testing.plugin import Actor, RegisterApp
from minibase.testing.sandbox import SandboxClient

SECRET = "TOP-secret-for-this-test-0042"


async def test_a_login_logs_no_secret_code_or_session_key(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure_logging("debug")
    caplog.set_level(logging.DEBUG)
    await register_app("wechat", "wx1111", secret=SECRET)
    minted = await sandbox.login_code("wechat", "wx1111", "ann")
    answer = await client.post(
        "/api/auth/wechat/login", json={"appid": "wx1111", "code": minted["code"]}
    )
    assert answer.status_code == 200
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert SECRET not in text
    assert minted["code"] not in text


def test_query_values_are_masked_even_if_httpx_logging_is_turned_up() -> None:
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        "HTTP Request: GET %s",
        ("https://api.weixin.qq.com/sns/jscode2session?appid=wx1&secret=s3cret&js_code=abc",),
        None,
    )
    RedactQueries().filter(record)
    assert record.getMessage() == (
        "HTTP Request: GET https://api.weixin.qq.com/sns/jscode2session?appid=***&secret=***"
        "&js_code=***"
    )


async def test_platform_calls_and_pushes_log_no_token_or_key(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    services: Services,
    admin: Actor,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """QR codes and a safe-mode push at DEBUG, httpx's request lines turned up too: the app's
    access token, push token and EncodingAESKey appear in no log line."""
    configure_logging("debug")
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")
    key, push_token = new_encoding_aes_key(), "PUSH-token-for-this-test-0042"
    await sandbox.register_app("wechat", "wx2222", secret=SECRET)
    created = await client.post(
        "/api/admin/apps",
        json={
            "platform": "wechat",
            "appid": "wx2222",
            "secret": SECRET,
            "push_token": push_token,
            "push_aes_key": key,
        },
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    code = await client.post(
        "/api/admin/qrcodes", json={"appid": "wx2222", "scene": "a=1"}, headers=admin.headers
    )
    assert code.status_code == 201, code.text
    crypto = PushCrypto(push_token, key, "wx2222")
    stamp = int(services.clock.now().timestamp())
    fields = {"ToUserName": "gh_x", "FromUserName": "o-ann", "CreateTime": stamp}
    query, body = crypto.seal_push(
        {**fields, "MsgType": "text", "Content": "hi", "MsgId": 1}, "xml", "safe", timestamp=stamp
    )
    pushed = await client.post("/api/push/wechat/wx2222", params=query, content=body)
    assert (pushed.status_code, pushed.text) == (200, "success")
    token = await services.access_tokens.get(await services.apps.get("wechat", "wx2222"))
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "wxa/getwxacodeunlimit?access_token=***" in text  # the call is logged, masked
    for secret in (SECRET, token, push_token, key):
        assert secret not in text


async def test_json_logs_of_a_login_hold_no_secret_code_or_session_key(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """log_format = "json" at DEBUG, httpx's request lines turned up: every line is a JSON
    object of the named fields only, and neither the app secret nor a login code (used or
    refused) is in any of them."""
    configure_logging("debug", "json")
    stream = io.StringIO()
    handler = MinibaseHandler("json")
    handler.setStream(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="httpx")
    try:
        await register_app("wechat", "wx3333", secret=SECRET)
        minted = await sandbox.login_code("wechat", "wx3333", "ann")
        answer = await client.post(
            "/api/auth/wechat/login", json={"appid": "wx3333", "code": minted["code"]}
        )
        assert answer.status_code == 200
        refused = await client.post(
            "/api/auth/wechat/login", json={"appid": "wx3333", "code": "CODE-never-minted-42"}
        )
        assert refused.status_code == 400
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert any("jscode2session" in line["message"] for line in lines)  # the calls are logged
    assert all(set(line) <= {"time", "level", "logger", "message", "request_id"} for line in lines)
    for secret in (SECRET, minted["code"], "CODE-never-minted-42"):
        assert secret not in text


def test_the_settings_repr_shows_every_setting_but_no_secret() -> None:
    """A repr of the settings may land in a log or a traceback (a failing start prints it)."""
    settings = Settings(
        master_key=SECRET,
        s3_secret_key=SECRET + "-s3",
        database_url=f"postgresql://app:{SECRET}@db.internal:5432/minibase",
        cache_url=f"redis://:{SECRET}@cache.internal:6379/0",
        extra={"apps": [{"appid": "wx1111", "secret": SECRET}]},
    )
    shown = repr(settings)
    assert SECRET not in shown
    assert "master_key='<secret>'" in shown
    assert "database_url='postgresql://app:<secret>@db.internal:5432/minibase'" in shown
    assert "cache_url='redis://:<secret>@cache.internal:6379/0'" in shown
    assert "extra={'apps': '...'}" in shown
    assert "port=8080" in shown  # the rest as it is
    assert "database_url=None" in repr(Settings())  # nothing set: nothing hidden

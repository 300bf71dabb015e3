"""Secrets never reach a log: app secrets and login codes travel in platform URLs, and the
session key in platform answers; a whole login at DEBUG level must show none of them."""

from __future__ import annotations

import logging

import httpx
import pytest

from minibase.log import RedactQueries, configure_logging
from minibase.services import Services
from minibase.testing.plugin import RegisterApp
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

"""The transport: one Call, run by either HTTP client, with network trouble made uniform."""

from __future__ import annotations

import httpx
import pytest

from minibase.platforms import PlatformError
from minibase.platforms.transport import Call, json_object, run_async, run_sync
from minibase.platforms.wechat import AsyncWeChatClient, WeChatClient
from tests.platforms.fakes import FakePlatform


def echo_call() -> Call[dict]:
    return Call(
        platform="demo",
        method="POST",
        url="https://demo.test/echo",
        params={"q": "1"},
        json={"a": 1},
        headers={"x-demo": "yes"},
        parse=lambda response: json_object(response, "demo"),
    )


async def run(mode: str, platform: FakePlatform, call: Call[dict]) -> dict:
    transport = httpx.MockTransport(platform)
    if mode == "sync":
        with httpx.Client(transport=transport) as http:
            return run_sync(call, http)
    async with httpx.AsyncClient(transport=transport) as http:
        return await run_async(call, http)


async def test_a_call_sends_what_it_describes_and_parses_the_answer(mode):
    platform = FakePlatform({"ok": True})

    assert await run(mode, platform, echo_call()) == {"ok": True}

    request = platform.request
    assert (request.method, str(request.url)) == ("POST", "https://demo.test/echo?q=1")
    assert request.headers["x-demo"] == "yes"
    assert platform.sent_json == {"a": 1}


@pytest.mark.parametrize(
    ("platform", "status"),
    [
        (FakePlatform(error=httpx.ReadTimeout), None),
        (FakePlatform(error=httpx.ConnectError), None),
        (FakePlatform(error=httpx.RemoteProtocolError), None),
        (FakePlatform({"ok": False}, status=503), 503),
        (FakePlatform(text="<html>oops</html>"), 200),
        (FakePlatform(text="<html>not found</html>", status=404), 404),
    ],
    ids=["read timeout", "refused", "broken protocol", "HTTP 503", "HTML", "HTML 404"],
)
async def test_network_trouble_becomes_unavailable(mode, platform, status):
    with pytest.raises(PlatformError) as caught:
        await run(mode, platform, echo_call())

    assert (caught.value.platform, caught.value.kind) == ("demo", "unavailable")
    assert caught.value.http_status == status


async def test_timeouts_say_so(mode):
    with pytest.raises(PlatformError, match="timed out"):
        await run(mode, FakePlatform(error=httpx.ConnectTimeout), echo_call())


async def test_http_429_is_rate_limited(mode):
    with pytest.raises(PlatformError) as caught:
        await run(mode, FakePlatform({}, status=429), echo_call())

    assert caught.value.kind == "rate_limited"


async def test_json_that_is_not_an_object_is_a_bad_response(mode):
    with pytest.raises(PlatformError) as caught:
        await run(mode, FakePlatform([1, 2]), echo_call())

    assert caught.value.kind == "bad_response"


def test_a_client_closes_the_http_client_it_created_and_only_that_one():
    owned = WeChatClient("wx1", "secret")
    owned.close()
    assert owned._http.is_closed

    borrowed_http = httpx.Client()
    with WeChatClient("wx1", "secret", http=borrowed_http):
        pass
    assert not borrowed_http.is_closed
    borrowed_http.close()


async def test_an_async_client_closes_the_http_client_it_created_and_only_that_one():
    async with AsyncWeChatClient("wx1", "secret") as owned:
        pass
    assert owned._http.is_closed

    async with httpx.AsyncClient() as borrowed_http:
        async with AsyncWeChatClient("wx1", "secret", http=borrowed_http):
            pass
        assert not borrowed_http.is_closed


def test_the_error_reads_well_in_a_log():
    error = PlatformError("wechat", "invalid_code", "invalid code, rid: 1", errcode=40029)

    assert str(error) == "wechat invalid_code: invalid code, rid: 1 (errcode 40029)"
    assert "40029" in repr(error)

"""WeChat's message push over real HTTP: the sandbox's WeChat verifies the URL, then pushes
signed (and, in compatible and safe mode, encrypted) messages in XML or JSON; the server
records each once, runs the handlers that do not reply as jobs, and answers with the reply
of a replying handler, encrypted as the push was. Forged, stale and replayed pushes, and
pushes encrypted for another app, are refused and leave nothing behind."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from tests.functions.conftest import run_jobs
from tests.http.pay.conftest import load_functions
from tests.http.push.conftest import APPID, TOKEN, PushingApp, recorded, set_up_push

from minibase.clock import OffsetClock
from minibase.platforms.wechat import PushCrypto, parse_body
from minibase.platforms.wechat.push import signature
from minibase.services import Services
from minibase.testing.plugin import Actor
from minibase.testing.sandbox import SandboxClient

TEXT = {"MsgType": "text", "Content": "hello"}

COUNTING = """
from pathlib import Path

from minibase.functions import push

@push("text")
async def remember(ctx, message):
    with (Path(__file__).parent / "handled.txt").open("a") as file:
        file.write(message["fields"]["Content"] + "\\n")
"""

REPLYING = """
from minibase.functions import push

@push("text", reply=True)
async def to_customer_service(ctx, message):
    if message["fields"]["Content"] == "human please":
        return {"MsgType": "transfer_customer_service"}
    return None
"""


@pytest.mark.parametrize("format", ["xml", "json"])
@pytest.mark.parametrize("mode", ["plaintext", "compatible", "safe"])
async def test_a_pushed_message_is_recorded_in_every_mode_and_format(
    http: httpx.AsyncClient,
    sandbox: SandboxClient,
    admin: Actor,
    server: str,
    mode: str,
    format: str,
) -> None:
    app = await set_up_push(http, sandbox, admin, server, mode=mode, format=format)
    pushed = await app.push(sandbox, TEXT)
    assert [(d["status"], d["body"]) for d in pushed["deliveries"]] == [(200, "success")]
    [message] = await recorded(http, admin)
    assert (message["msg_type"], message["format"]) == ("text", format)
    assert message["encrypted"] is (mode != "plaintext")
    assert message["from_user"] == pushed["message"]["FromUserName"]
    assert message["fields"]["Content"] == "hello"


async def test_recorded_pushes_are_listed_newest_first_in_pages(
    http: httpx.AsyncClient, sandbox: SandboxClient, admin: Actor, safe_app: PushingApp
) -> None:
    for word in ("one", "two", "three"):
        await safe_app.push(sandbox, {"MsgType": "text", "Content": word})
    url = f"/api/admin/push/wechat/{APPID}/messages"
    pages: list[list[str]] = []
    params = {"limit": "2"}
    while True:
        page = (await http.get(url, params=params, headers=admin.headers)).json()
        pages.append([message["fields"]["Content"] for message in page["items"]])
        if page["next_before"] is None:
            break
        params["before"] = page["next_before"]
    assert pages == [["three", "two"], ["one"]]  # and no empty page after


async def test_the_url_verification_answers_echostr_only_when_signed(
    http: httpx.AsyncClient, safe_app: PushingApp
) -> None:
    signed = {"timestamp": "1700000000", "nonce": "42", "echostr": "its-echo"}
    good = await http.get(
        safe_app.url, params={**signed, "signature": signature(TOKEN, "1700000000", "42")}
    )
    assert (good.status_code, good.text) == (200, "its-echo")
    for wrong in ("0" * 40, "签名" * 20):  # any text a client sends is compared, never a 500
        forged = await http.get(safe_app.url, params={**signed, "signature": wrong})
        assert forged.status_code == 401
        assert forged.json()["code"] == "push.invalid_signature"


async def test_an_app_without_a_push_token_takes_no_pushes(
    http: httpx.AsyncClient, sandbox: SandboxClient, admin: Actor
) -> None:
    await http.post(
        "/api/admin/apps",
        json={"platform": "wechat", "appid": "wx-quiet", "secret": "s"},
        headers=admin.headers,
    )
    answer = await http.post("/api/push/wechat/wx-quiet", content=b"<xml></xml>")
    assert (answer.status_code, answer.json()["code"]) == (404, "push.not_configured")


@pytest.mark.parametrize(
    ("delivery", "code"),
    [({"forge": True}, "push.invalid_signature"), ({"stale": True}, "push.stale")],
)
async def test_forged_and_stale_pushes_are_refused(
    http: httpx.AsyncClient,
    sandbox: SandboxClient,
    admin: Actor,
    safe_app: PushingApp,
    delivery: dict[str, bool],
    code: str,
) -> None:
    pushed = await safe_app.push(sandbox, TEXT, **delivery)
    [refused] = pushed["deliveries"]
    assert refused["status"] == 401
    assert httpx.Response(401, content=refused["body"]).json()["code"] == code
    assert await recorded(http, admin) == []


async def test_a_replayed_push_is_refused(
    http: httpx.AsyncClient, sandbox: SandboxClient, admin: Actor, safe_app: PushingApp
) -> None:
    first = await safe_app.push(sandbox, TEXT)
    assert first["deliveries"][0]["status"] == 200
    again = await safe_app.push(sandbox, TEXT, replay=True)
    [refused] = again["deliveries"]
    assert refused["status"] == 401
    assert "push.replayed" in refused["body"]
    assert len(await recorded(http, admin)) == 1


async def test_a_plaintext_push_to_an_app_with_an_aes_key_is_refused(
    http: httpx.AsyncClient, sandbox: SandboxClient, admin: Actor, safe_app: PushingApp
) -> None:
    await sandbox.wechat_push_config(APPID, safe_app.url, TOKEN, mode="plaintext")
    [refused] = (await safe_app.push(sandbox, TEXT))["deliveries"]
    assert refused["status"] == 400
    assert "push.not_encrypted" in refused["body"]
    assert await recorded(http, admin) == []


async def test_a_push_encrypted_for_another_app_is_refused(
    http: httpx.AsyncClient, sandbox: SandboxClient, admin: Actor, safe_app: PushingApp
) -> None:
    # another app of the sandbox's WeChat, set up with this app's URL, token and key
    await sandbox.register_app("wechat", "wx-elsewhere", secret="s")
    await sandbox.wechat_push_config(
        "wx-elsewhere",
        safe_app.url,
        TOKEN,
        encoding_aes_key=safe_app.encoding_aes_key,
        mode="safe",
        verify=False,
    )
    pushed = await sandbox.wechat_push("wx-elsewhere", TEXT, person="ann")
    [refused] = pushed["deliveries"]
    assert refused["status"] == 403
    assert "push.wrong_app" in refused["body"]
    assert await recorded(http, admin) == []


async def test_wechats_retries_are_recorded_once_and_handled_once(
    http: httpx.AsyncClient,
    sandbox: SandboxClient,
    admin: Actor,
    safe_app: PushingApp,
    services: Services,
) -> None:
    load_functions(services, COUNTING)
    pushed = await safe_app.push(sandbox, TEXT, times=3)  # one MsgId, three signed deliveries
    assert [d["body"] for d in pushed["deliveries"]] == ["success"] * 3
    assert len(await recorded(http, admin)) == 1
    assert await run_jobs(services) == 1
    handled = Path(services.settings.functions_dir) / "handled.txt"
    assert handled.read_text() == "hello\n"


async def test_events_without_msgid_are_told_apart_by_sender_and_time(
    http: httpx.AsyncClient, sandbox: SandboxClient, admin: Actor, safe_app: PushingApp
) -> None:
    event = {"Event": "user_enter_tempsession", "SessionFrom": "shop"}
    await safe_app.push(sandbox, {**event, "CreateTime": 1700000000}, times=2)
    await safe_app.push(sandbox, {**event, "CreateTime": 1700000001})
    items = await recorded(http, admin)
    assert [(m["msg_type"], m["event"]) for m in items] == [("event", event["Event"])] * 2


@pytest.mark.parametrize("format", ["xml", "json"])
async def test_a_replying_handler_answers_encrypted_in_safe_mode(
    http: httpx.AsyncClient,
    sandbox: SandboxClient,
    admin: Actor,
    server: str,
    services: Services,
    format: str,
) -> None:
    app = await set_up_push(http, sandbox, admin, server, format=format)
    load_functions(services, REPLYING)
    pushed = await app.push(sandbox, {"MsgType": "text", "Content": "human please"})
    [answered] = pushed["deliveries"]
    sealed = parse_body(answered["body"].encode())
    assert set(sealed) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert app.encoding_aes_key is not None
    reply = PushCrypto(TOKEN, app.encoding_aes_key, APPID).open_reply(answered["body"].encode())
    assert reply["MsgType"] == "transfer_customer_service"
    assert reply["ToUserName"] == pushed["message"]["FromUserName"]
    assert answered["reply"]["MsgType"] == "transfer_customer_service"  # the sandbox read it
    plain = await app.push(sandbox, {"MsgType": "text", "Content": "just saying"})
    assert plain["deliveries"][0]["body"] == "success"  # None: no reply


async def test_concurrent_copies_of_one_push_are_recorded_and_handled_once(
    http: httpx.AsyncClient,
    sandbox: SandboxClient,
    admin: Actor,
    safe_app: PushingApp,
    services: Services,
) -> None:
    load_functions(services, COUNTING)
    pushed = await safe_app.push(sandbox, TEXT, concurrent=5)
    assert sorted(d["status"] for d in pushed["deliveries"]) == [200] * 5
    assert len(await recorded(http, admin)) == 1
    assert await run_jobs(services) == 1
    handled = Path(services.settings.functions_dir) / "handled.txt"
    assert handled.read_text() == "hello\n"


async def test_a_nonce_is_kept_as_long_as_its_timestamp_is_inside_the_window(
    http: httpx.AsyncClient,
    sandbox: SandboxClient,
    admin: Actor,
    safe_app: PushingApp,
    clock: OffsetClock,
) -> None:
    clock.advance(seconds=-290)  # the server is behind: the push looks 290 s ahead
    first = await safe_app.push(sandbox, TEXT)
    assert first["deliveries"][0]["status"] == 200
    clock.advance(seconds=580)  # now 290 s after the push's timestamp: still inside the window
    again = await safe_app.push(sandbox, TEXT, replay=True)
    assert again["deliveries"][0]["status"] == 401
    assert "push.replayed" in again["deliveries"][0]["body"]
    assert len(await recorded(http, admin)) == 1

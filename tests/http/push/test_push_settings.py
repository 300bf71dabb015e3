"""An app's push token and EncodingAESKey go in sealed and never come out; bad ones are refused
before anything is stored. Handler declarations that cannot work stop the load."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from minibase.functions.registry import FunctionsError, load_functions
from minibase.platforms.wechat.push import new_encoding_aes_key
from minibase.services import Services
from minibase.testing.plugin import Actor


async def test_push_keys_are_sealed_and_never_returned(
    http: httpx.AsyncClient, admin: Actor, services: Services
) -> None:
    key = new_encoding_aes_key()
    app = {"platform": "wechat", "appid": "wx-k", "secret": "s", "push_token": "tok-123456"}
    created = await http.post(
        "/api/admin/apps", json={**app, "push_aes_key": key}, headers=admin.headers
    )
    assert created.status_code == 201, created.text
    assert (created.json()["has_push_token"], created.json()["has_push_aes_key"]) == (True, True)
    one = await http.get("/api/admin/apps/wechat/wx-k", headers=admin.headers)
    stored = await services.db.fetch_value("SELECT credentials FROM platform_apps")
    for text in (created.text, one.text, stored):
        assert key not in text
        assert "tok-123456" not in text
    rotated = await http.patch(
        "/api/admin/apps/wechat/wx-k", json={"push_token": "tok-2"}, headers=admin.headers
    )
    assert rotated.status_code == 200
    assert (await services.apps.get("wechat", "wx-k")).credentials.push_token == "tok-2"


@pytest.mark.parametrize(
    "app",
    [
        {"platform": "wechat", "push_token": "t", "push_aes_key": "not-43-characters"},
        {"platform": "wechat", "push_aes_key": new_encoding_aes_key()},  # no token
        {"platform": "qq", "push_token": "t"},  # WeChat's feature
    ],
)
async def test_bad_push_settings_are_refused(
    http: httpx.AsyncClient, admin: Actor, services: Services, app: dict[str, str]
) -> None:
    body = {"appid": "wx-bad", "secret": "s", **app}
    refused = await http.post("/api/admin/apps", json=body, headers=admin.headers)
    assert (refused.status_code, refused.json()["code"]) == (400, "apps.invalid")
    assert await services.db.fetch_value("SELECT count(*) FROM platform_apps") == 0


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        (
            "@push('text', reply=True)\nasync def a(ctx, m): ...\n"
            "@push('text', reply=True)\nasync def b(ctx, m): ...\n",
            "replies to these messages",
        ),
        ("@push('text', reply=True, timeout=5)\nasync def a(ctx, m): ...\n", "under WeChat's 5 s"),
        ("@push('')\nasync def a(ctx, m): ...\n", "non-empty string"),
        ("@push('text')\nasync def a(ctx): ...\n", "must accept"),
    ],
)
def test_push_handlers_that_cannot_work_stop_the_load(
    tmp_path: Path, source: str, problem: str
) -> None:
    (tmp_path / "support.py").write_text("from minibase.functions import push\n" + source)
    with pytest.raises(FunctionsError, match=problem):
        load_functions(tmp_path)


def test_push_handlers_match_by_msg_type_and_event(tmp_path: Path) -> None:
    (tmp_path / "support.py").write_text(
        "from minibase.functions import push\n"
        "@push()\nasync def everything(ctx, m): ...\n"
        "@push('text')\nasync def texts(ctx, m): ...\n"
        "@push(event='subscribe_msg_popup_event')\nasync def popups(ctx, m): ...\n"
    )
    registry = load_functions(tmp_path)
    names = {
        (msg_type, event): [found.name for found in registry.push_for(msg_type, event)]
        for msg_type, event in [
            ("text", None),
            ("event", "subscribe_msg_popup_event"),
            ("event", "other"),
            ("image", None),
        ]
    }
    assert names == {
        ("text", None): ["support.everything", "support.texts"],
        ("event", "subscribe_msg_popup_event"): ["support.everything", "support.popups"],
        ("event", "other"): ["support.everything"],
        ("image", None): ["support.everything"],
    }

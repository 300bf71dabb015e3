"""In --dev a WeChat app with a push token needs no console step: the in-process sandbox sends
its pushes to this server's endpoint at once, whether the app came from minibase.toml at
startup or from the admin API later."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from minibase.platforms.wechat.push import new_encoding_aes_key
from tests.e2e.conftest import RunningServer, admin_headers, start_server, stop_server


def _push(server: RunningServer, appid: str) -> Any:
    answer = httpx.post(
        f"{server.url}/_sandbox/control/wechat/push",
        json={"appid": appid, "person": "ann", "message": {"MsgType": "text", "Content": "hi"}},
    )
    assert answer.status_code == 200, answer.text
    return [(d["status"], d["body"]) for d in answer.json()["deliveries"]]


def test_dev_sets_up_the_sandbox_push_for_apps_with_a_push_token(tmp_path: Path) -> None:
    key = new_encoding_aes_key()
    (tmp_path / "minibase.toml").write_text(
        "[[apps]]\n"
        'platform = "wechat"\n'
        'appid = "wx-toml"\n'
        'secret = "s3cret"\n'
        'push_token = "toml-token"\n'
        f'push_aes_key = "{key}"\n'
    )
    server = start_server(tmp_path, "--dev")
    try:
        assert _push(server, "wx-toml") == [(200, "success")]
        admin = admin_headers(server)
        created = httpx.post(
            f"{server.url}/api/admin/apps",
            json={"platform": "wechat", "appid": "wx-api", "push_token": "api-token"},
            headers=admin,
        )
        assert created.status_code == 201, created.text
        assert _push(server, "wx-api") == [(200, "success")]  # plaintext: no key
        listed = httpx.get(f"{server.url}/api/admin/push/wechat/wx-toml/messages", headers=admin)
        assert [(m["msg_type"], m["encrypted"]) for m in listed.json()["items"]] == [("text", True)]
    finally:
        stop_server(server)

"""docs/qrcodes.md works as written: its curl walk against `minibase serve --dev` (a code made
once, kept and served again, a scheme and a link), and its functions file beside the server."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx

from minibase.testing.png import decode_png
from tests.e2e.conftest import (
    assert_printed_as_shown,
    doc_block,
    printed_lines,
    run_walk,
    shown_output,
    start_server,
    stop_server,
)


def test_the_walk_makes_a_code_once_and_a_scheme_and_a_link(tmp_path: Path) -> None:
    (tmp_path / "functions").mkdir()
    (tmp_path / "functions" / "codes.py").write_text(doc_block("qrcodes.md", "python"))
    server = start_server(tmp_path, "--dev")
    try:
        script = doc_block("qrcodes.md", "sh")
        printed = printed_lines(run_walk(script, server.port, tmp_path))
        assert_printed_as_shown(printed, shown_output(script))
        png = decode_png((tmp_path / "item-42.png").read_bytes())
        assert (png.width, png.text["scene"], png.text["page"]) == (
            300,
            "id=42",
            "pages/shop/item",
        )
        assert (7, 193, 96) in png.colours
        assert (tmp_path / "copy.png").read_bytes() == (tmp_path / "item-42.png").read_bytes()
        _functions_answer(server.url)
    finally:
        stop_server(server)


def _functions_answer(url: str) -> None:
    """The doc's functions, called by a signed-in user."""
    code = httpx.post(
        f"{url}/_sandbox/control/login-code",
        json={"platform": "wechat", "appid": "wxdemo", "person": "ann"},
    ).json()["code"]
    login = httpx.post(f"{url}/api/auth/wechat/login", json={"appid": "wxdemo", "code": code})
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    invite = httpx.post(f"{url}/api/functions/my_invite_code", json={}, headers=headers)
    assert invite.status_code == 200, invite.text
    png = decode_png(base64.b64decode(invite.json()["result"]["png"]))
    assert (png.width, png.text["scene"][:4]) == (280, "inv=")
    shared = httpx.post(f"{url}/api/functions/share_item", json={"id": 5}, headers=headers)
    assert shared.status_code == 200, shared.text
    assert shared.json()["result"]["url"].startswith("https://wxaurl.cn/")

"""docs/push.md's standalone example works as written: a view built on minibase.platforms
alone opens a safe-mode push, refuses a forged one, and answers with an encrypted reply."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from minibase.platforms.wechat import PushCrypto
from minibase.platforms.wechat.push import new_encoding_aes_key

DOC = Path(__file__).resolve().parents[2] / "docs" / "push.md"
TOKEN, APPID = "doc-token", "wx-doc"


def _view(key: str) -> Any:
    text = DOC.read_text().split("## The crypto on its own", 1)[1]
    match = re.search(r"```python\n(.*?)```", text, re.S)
    assert match, "docs/push.md lost its standalone example"
    scope: dict[str, Any] = {"TOKEN": TOKEN, "ENCODING_AES_KEY": key, "APPID": APPID}
    exec(match.group(1), scope)  # the doc's own example
    return scope["wechat_push"]


def test_the_standalone_example_replies_encrypted_and_refuses_forgeries() -> None:
    key = new_encoding_aes_key()
    view = _view(key)
    wechat = PushCrypto(TOKEN, key, APPID)
    fields = {"ToUserName": "gh_1", "FromUserName": "o-ann", "CreateTime": 1, "MsgType": "text"}
    query, body = wechat.seal_push(fields, "json", "safe")
    status, answer = view(query, body)
    assert status == 200
    assert wechat.open_reply(answer)["MsgType"] == "transfer_customer_service"
    forged_query, forged_body = PushCrypto("not-the-token", key, APPID).seal_push(
        fields, "json", "safe"
    )
    assert view(forged_query, forged_body) == (401, b"")

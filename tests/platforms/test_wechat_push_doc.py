"""docs/push.md's standalone example works as written: a view built on minibase.platforms
alone opens a safe-mode push, refuses a forged one, and answers with an encrypted reply."""

from __future__ import annotations

import importlib
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


def _named_after(text: str, lead: str, end: str) -> list[str]:
    """The `names` between `lead` and the next `end` in the text."""
    assert lead in text, f"docs/push.md lost {lead!r}"
    return re.findall(r"`(\w+)`", text.split(lead, 1)[1].split(end, 1)[0])


def test_the_pieces_the_doc_names_import_from_where_it_says() -> None:
    text = " ".join(DOC.read_text().split("## The crypto on its own", 1)[1].split())
    pieces = _named_after(text, "The pieces are in `minibase.platforms.wechat.push`:", " (`")
    assert "encrypt" in pieces
    push = importlib.import_module("minibase.platforms.wechat.push")
    assert [name for name in pieces if not hasattr(push, name)] == []
    also = re.search(r"\(((?:`\w+`(?:, | and )?)+) are also in `minibase.platforms.wechat`\)", text)
    assert also, "docs/push.md no longer says what minibase.platforms.wechat holds"
    wechat = importlib.import_module("minibase.platforms.wechat")
    assert [n for n in re.findall(r"`(\w+)`", also.group(1)) if not hasattr(wechat, n)] == []

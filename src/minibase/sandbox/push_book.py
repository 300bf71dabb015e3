"""What the sandbox's WeChat knows of message push: each app's "message server" setting (URL,
Token, EncodingAESKey, mode, format) and every delivery with the server's answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from minibase.platforms.wechat.push import Format, Mode


@dataclass(frozen=True)
class PushSetting:
    url: str
    token: str
    encoding_aes_key: str | None
    mode: Mode
    format: Format


@dataclass
class PushBook:
    settings: dict[str, PushSetting] = field(default_factory=dict)  # appid -> its setting
    # appid -> the query and body of its latest push, for replays
    latest: dict[str, tuple[dict[str, str], bytes]] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def clear(self) -> None:
        self.settings.clear()
        self.latest.clear()
        self.deliveries.clear()

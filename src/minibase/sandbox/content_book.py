"""What the sandbox's WeChat and Douyin know of content security: the words that make text
risky or worth a review (built in, and added per app), and WeChat's media checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Marked words every app knows: text (or a media URL) holding one is risky, or to review.
RISKY_WORD = "sandbox-risky"
REVIEW_WORD = "sandbox-review"
BUILT_IN: dict[str, tuple[str, int]] = {
    RISKY_WORD: ("risky", 21000),
    REVIEW_WORD: ("review", 21000),
}


@dataclass
class MediaCheck:
    trace_id: str
    appid: str
    openid: str
    media_url: str
    media_type: int
    scene: int
    created: int
    suggest: str  # what the check will find
    label: int
    event: dict[str, Any] | None = None  # the wxa_media_check push, once finished

    def to_json(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "appid": self.appid,
            "openid": self.openid,
            "media_url": self.media_url,
            "media_type": self.media_type,
            "scene": self.scene,
            "state": "pending" if self.event is None else "finished",
            "event": self.event,
        }


@dataclass
class ContentBook:
    # appid -> {word (lower case): (suggest, label)}: the app's own keywords
    words: dict[str, dict[str, tuple[str, int]]] = field(default_factory=dict)
    media: dict[str, MediaCheck] = field(default_factory=dict)  # by trace_id, in order made
    texts_checked: int = 0
    # Douyin appid -> its own words (lower case): hit or not, Douyin has no review nor label
    douyin_words: dict[str, set[str]] = field(default_factory=dict)

    def clear(self) -> None:
        self.words.clear()
        self.media.clear()
        self.texts_checked = 0
        self.douyin_words.clear()

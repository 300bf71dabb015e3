"""What the sandbox's WeChat knows of subscribe messages: who accepted which template how many
times, the templates each app offers, and what was delivered."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class MessageBook:
    # (appid, template_id, openid) -> messages the person accepted and has not received yet
    grants: dict[tuple[str, str, str], int] = field(default_factory=dict)
    templates: dict[str, set[str]] = field(default_factory=dict)  # appid -> offered templates
    people: dict[tuple[str, str], str] = field(default_factory=dict)  # (appid, openid) -> person
    sent: list[dict[str, Any]] = field(default_factory=list)

    def clear(self) -> None:
        self.grants.clear()
        self.templates.clear()
        self.people.clear()
        self.sent.clear()

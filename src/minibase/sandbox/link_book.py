"""What the sandbox's WeChat knows of codes and links: each app's published pages (what
`check_path` and a link's `path` are checked against), the codes it drew and the schemes and
links it issued, with their expiry."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HOME_PAGE = "pages/index/index"  # an app whose pages were never set has only this one


@dataclass
class LinkBook:
    pages: dict[str, list[str]] = field(default_factory=dict)  # appid -> published pages
    codes: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, Any]] = field(default_factory=list)  # schemes and URL links

    def published(self, appid: str) -> list[str]:
        return self.pages.get(appid) or [HOME_PAGE]

    def clear(self) -> None:
        self.pages.clear()
        self.codes.clear()
        self.links.clear()

"""What content checks answer: a text's verdict, and a media check as its row keeps it
(`content_media_checks`: pending until a WeChat verdict is pushed, or decided at once on
Douyin), pages of those rows for admins, and the pieces a long text is checked in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from minibase.platforms import CONTENT_LABELS, ContentVerdict
from minibase.store.database import Connection, Row, json_column

PIECE = 2500  # characters one msgSecCheck call takes (Douyin's antidirt names no limit)
OVERLAP = 100
SEVERITY: Mapping[str, int] = {"pass": 0, "review": 1, "risky": 2}
MEDIA_STATES = ("pending", "pass", "review", "risky")
# list filter -> column
MEDIA_FILTERS = {
    "user": "user_id",
    "platform": "platform",
    "appid": "appid",
    "media_type": "media_type",
    "state": "state",
}
COLUMNS = (
    "trace_id, platform, appid, user_id, media_url, media_type, scene, state, label, detail,"
    " created, updated, checked_at"
)


@dataclass(frozen=True)
class TextVerdict:
    suggest: str  # pass, review or risky
    label: int
    trace_id: str | None
    detail: tuple[Mapping[str, Any], ...] = ()

    @property
    def label_name(self) -> str:
        return CONTENT_LABELS.get(self.label, "other")

    def rejects(self, strict: bool) -> bool:
        """Is this verdict a refusal? risky always; review too when strict."""
        return self.suggest == "risky" or (strict and self.suggest == "review")

    def to_json(self) -> dict[str, Any]:
        return {
            "suggest": self.suggest,
            "label": self.label,
            "label_name": self.label_name,
            "trace_id": self.trace_id,
            "detail": [dict(item) for item in self.detail],
        }

    @classmethod
    def of(cls, verdict: ContentVerdict) -> TextVerdict:
        return cls(verdict.suggest, verdict.label, verdict.trace_id, verdict.detail)


@dataclass(frozen=True)
class MediaCheck:
    trace_id: str
    platform: str
    appid: str
    user_id: str
    media_url: str
    media_type: str
    scene: str
    state: str  # pending, then pass, review or risky
    label: int | None
    detail: list[Any] | None
    created: str
    updated: str
    checked_at: str | None

    @classmethod
    def from_row(cls, row: Row) -> MediaCheck:
        detail = json_column(row[9])
        return cls(
            trace_id=row[0],
            platform=row[1],
            appid=row[2],
            user_id=row[3],
            media_url=row[4],
            media_type=row[5],
            scene=row[6],
            state=row[7],
            label=row[8],
            detail=detail,
            created=row[10],
            updated=row[11],
            checked_at=row[12],
        )

    def to_json(self) -> dict[str, Any]:
        label = self.label
        return {
            "trace_id": self.trace_id,
            "platform": self.platform,
            "appid": self.appid,
            "user": self.user_id,
            "media_url": self.media_url,
            "media_type": self.media_type,
            "scene": self.scene,
            "state": self.state,
            "label": label,
            "label_name": None if label is None else CONTENT_LABELS.get(label, "other"),
            "detail": self.detail,
            "created": self.created,
            "updated": self.updated,
            "checked_at": self.checked_at,
        }


async def list_media_checks(
    reader: Connection, *, before: str | None, limit: int, **filters: str | None
) -> list[MediaCheck]:
    """Newest first (by `created`, then trace_id), filtered by any of MEDIA_FILTERS; `before`
    is the trace_id of the last check of the page before (none follow an unknown one)."""
    given = {MEDIA_FILTERS[name]: value for name, value in filters.items() if value is not None}
    conditions = [f"{column} = ?" for column in given]
    args: list[Any] = list(given.values())
    if before is not None:
        anchor = await reader.fetch_value(
            "SELECT created FROM content_media_checks WHERE trace_id = ?", before
        )
        if anchor is None:  # as an id below every other: nothing comes after it
            return []
        conditions.append("(created < ? OR (created = ? AND trace_id < ?))")
        args += [anchor, anchor, before]
    where = " WHERE " + " AND ".join(conditions) if conditions else ""
    rows = await reader.fetch_all(
        f"SELECT {COLUMNS} FROM content_media_checks{where}"
        " ORDER BY created DESC, trace_id DESC LIMIT ?",
        *args,
        limit,
    )
    return [MediaCheck.from_row(row) for row in rows]


def pieces(content: str) -> list[str]:
    """Pieces of at most PIECE characters that overlap by OVERLAP, so that a phrase cut at
    one piece's end is whole in the next."""
    if len(content) <= PIECE:
        return [content]
    step = PIECE - OVERLAP
    return [content[start : start + PIECE] for start in range(0, len(content) - OVERLAP, step)]

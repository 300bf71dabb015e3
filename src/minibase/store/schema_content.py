"""The `content_check` option of string fields: the platform checks the text users write
there (see minibase.data.content_rule).

    "body": {"type": "string", "content_check": true}
    "bio":  {"type": "string", "content_check": {"scene": "profile", "strict": true}}

`scene` is WeChat's: profile, comment (the default), forum or social_log. A strict field also
refuses text the platform suggests a person should review.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from minibase.store.schema_problems import FieldSpec

SCENES = ("profile", "comment", "forum", "social_log")
_KEYS = frozenset({"scene", "strict"})


@dataclass(frozen=True, slots=True)
class ContentRule:
    scene: str = "comment"
    strict: bool = False

    def definition(self) -> bool | dict[str, Any]:
        if self == ContentRule():
            return True
        return {"scene": self.scene, "strict": self.strict}


def parse_content_rule(spec: FieldSpec) -> ContentRule | None:
    raw = spec.raw.get("content_check", False)
    if raw is True:
        return ContentRule()
    if raw is False or raw is None:
        return None
    if not isinstance(raw, Mapping) or set(raw) - _KEYS:
        spec.problem('content_check is true, or {"scene": ..., "strict": true | false}')
        return None
    scene = raw.get("scene", "comment")
    strict = raw.get("strict", False)
    if scene not in SCENES:
        spec.problem(f"content_check.scene is one of {', '.join(SCENES)}")
        return None
    if not isinstance(strict, bool):
        spec.problem("content_check.strict must be true or false")
        return None
    return ContentRule(scene, strict)

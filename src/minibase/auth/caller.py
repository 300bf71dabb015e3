"""Who is calling: the identity every feature receives, and what rules see as `auth`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

CallerKind = Literal["anonymous", "user", "admin"]


@dataclass(frozen=True, slots=True)
class Caller:
    kind: CallerKind = "anonymous"
    id: str | None = None
    roles: tuple[str, ...] = ()
    platform: str | None = None
    appid: str | None = None
    _rule_view: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_admin(self) -> bool:
        return self.kind == "admin"

    @property
    def is_user(self) -> bool:
        return self.kind == "user"

    def rule_view(self) -> dict[str, Any]:
        """The `auth` object of rule expressions (admins have no user id)."""
        if not self._rule_view:
            self._rule_view.update(
                id=self.id if self.kind == "user" else None,
                roles=list(self.roles),
                platform=self.platform,
                appid=self.appid,
            )
        return self._rule_view


ANONYMOUS = Caller()

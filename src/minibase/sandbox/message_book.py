"""What the sandbox's platforms know of subscribe messages, on WeChat, Douyin and Alipay alike:
who accepted which template how many times, the templates each app offers, and what was
delivered. A person's acceptance is one message of that template (one-time subscriptions);
each delivery uses one.

Call these with the state's lock held.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from minibase.sandbox import identities

if TYPE_CHECKING:
    from minibase.sandbox.state import SandboxState


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


def grant(
    state: SandboxState, platform: str, appid: str, person: str, template_id: str, count: int
) -> str:
    """The person accepts `count` messages of the template; their openid in the app."""
    openid = identities.openid(platform, appid, person)
    book = state.messages
    book.templates.setdefault(appid, set()).add(template_id)
    book.people[(appid, openid)] = person
    key = (appid, template_id, openid)
    book.grants[key] = book.grants.get(key, 0) + count
    return openid


def person_of(state: SandboxState, platform: str, appid: str, openid: object) -> str | None:
    """Who this openid of the app is: someone who signed in, or accepted a template."""
    book = state.messages
    if not isinstance(openid, str):
        return None
    if (appid, openid) in book.people:
        return book.people[(appid, openid)]
    for signed_platform, app, person in state.sessions:
        if (signed_platform, app) == (platform, appid) and identities.openid(
            platform, appid, person
        ) == openid:
            book.people[(appid, openid)] = person
            return person
    return None


def offers(state: SandboxState, appid: str, template_id: object) -> bool:
    return isinstance(template_id, str) and template_id in state.messages.templates.get(appid, ())


def use_grant(state: SandboxState, appid: str, template_id: str, openid: str) -> bool:
    """Take one accepted message of the template; False when the person has none left."""
    key = (appid, template_id, openid)
    if state.messages.grants.get(key, 0) < 1:
        return False
    state.messages.grants[key] -= 1
    return True


def deliver(
    state: SandboxState, platform: str, appid: str, openid: str, template_id: str, **rest: Any
) -> None:
    state.messages.sent.append(
        {
            "platform": platform,
            "appid": appid,
            "person": state.messages.people[(appid, openid)],
            "touser": openid,
            "template_id": template_id,
            **rest,
        }
    )

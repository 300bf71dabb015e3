"""The `content_check` field rule: text a user writes into a content-checked string field is
checked by the platform (WeChat msgSecCheck with the writer's openid, or Douyin antidirt, in
the app they signed in through) before it is stored; risky text is refused with 422
`content.risky` and nothing changes. Only text new to the record is checked (an update that
leaves a field as it was costs no call).

No platform call is made while a write transaction is open: a write first finds the new
texts (`ContentGate.admit`, inside the transaction, after before-hooks, with the verdicts the
content service remembers); texts without a verdict roll the transaction back, are checked
outside it, and the write runs again — a creation's texts are checked before its first try.
Admins' writes are not checked. A writer who is not signed in through WeChat or Douyin cannot
be checked: 422 `content.unchecked`. An outage is 503 `content.unavailable`: nothing is stored
unchecked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from minibase.auth.caller import Caller
from minibase.data.references import values_at
from minibase.errors import ApiError
from minibase.services import Services
from minibase.store.collections import Collection

T = TypeVar("T")
ROUNDS = 3  # tries of a write whose texts keep changing under it (before-hooks, races)
CHECKS_AT_ONCE = 8  # platform calls one write makes at a time (a bulk create may hold many)


@dataclass(frozen=True)
class NewText:
    field: str
    scene: str
    strict: bool
    text: str
    index: int | None = None  # the record's place in a bulk write


class TextsToCheck(Exception):
    """Raised inside a write transaction (rolling it back): these texts need a check first."""

    def __init__(self, texts: list[NewText]) -> None:
        super().__init__(f"{len(texts)} texts to check")
        self.texts = texts


def new_texts(
    collection: Collection,
    stored: Mapping[str, Any] | None,
    record: Mapping[str, Any],
    index: int | None = None,
) -> list[NewText]:
    """Non-blank texts at content-checked paths of `record` that `stored` does not hold."""
    found: list[NewText] = []
    for path, rule in collection.schema.content_checks():
        held = values_at(stored, path) if stored is not None else ()
        before = {value for value in held if isinstance(value, str)}
        name = ".".join(segment for segment in path if segment != "*")
        for value in values_at(record, path):
            if isinstance(value, str) and value.strip() and value not in before:
                found.append(NewText(name, rule.scene, rule.strict, value, index))
    return found


class ContentGate:
    """One write's content checks, for one caller and collection."""

    def __init__(
        self, services: Services, caller: Caller, collection: Collection, *, can_leave: bool
    ) -> None:
        self._services = services
        self._caller = caller
        self._collection = collection
        # False in a transaction the caller owns (a function's): it cannot be rolled back
        # and retried here, so texts must have been checked before (ctx.content.check_text).
        self._can_leave = can_leave
        self.active = not caller.is_admin and bool(collection.schema.content_checks())

    def _writer(self, texts: list[NewText]) -> tuple[str, str]:
        caller = self._caller
        checked = self._services.content.covers(caller.platform)
        if caller.is_user and caller.id and checked and caller.appid:
            return caller.id, caller.appid
        raise ApiError(
            "content.unchecked",
            422,
            f"{texts[0].field} is content-checked and only text of users signed in through"
            " WeChat or Douyin can be checked",
            _where(texts[0]),
        )

    def admit(
        self, stored: Mapping[str, Any] | None, record: Mapping[str, Any], index: int | None = None
    ) -> None:
        """In the transaction: refuse risky new text, or ask for the unchecked to be checked."""
        if not self.active:
            return
        texts = new_texts(self._collection, stored, record, index)
        if not texts:
            return
        user, appid = self._writer(texts)
        pending = []
        for text in texts:
            verdict = self._services.content.remembered(user, appid, text.scene, text.text)
            if verdict is None:
                pending.append(text)
            elif verdict.rejects(text.strict):
                raise _risky(text, verdict)
        if not pending:
            return
        if not self._can_leave:
            raise ApiError(
                "content.unchecked",
                422,
                f"{pending[0].field} is content-checked: inside a transaction, check its text"
                " first (ctx.content.check_text) or write outside the transaction",
                _where(pending[0]),
            )
        raise TextsToCheck(pending)

    async def check(self, texts: list[NewText]) -> None:
        """Outside any transaction: ask the platform (each distinct text once, a few at a
        time); refuse the first risky text, else fail with the first error."""
        if not self.active or not texts:
            return
        user, appid = self._writer(texts)
        distinct = list(dict.fromkeys((text.scene, text.text) for text in texts))
        slots = asyncio.Semaphore(CHECKS_AT_ONCE)

        async def ask(scene: str, content: str) -> Any:
            async with slots:
                return await self._services.content.check_text(user, appid, content, scene=scene)

        answers = await asyncio.gather(*(ask(*key) for key in distinct), return_exceptions=True)
        verdicts = dict(zip(distinct, answers, strict=True))
        failed: BaseException | None = None
        for text in texts:
            verdict = verdicts[(text.scene, text.text)]
            if isinstance(verdict, BaseException):
                failed = failed or verdict
            elif verdict.rejects(text.strict):
                raise _risky(text, verdict)  # a refusal wins over another text's outage
        if failed is not None:
            raise failed


def _where(text: NewText) -> dict[str, Any]:
    where: dict[str, Any] = {"field": text.field}
    if text.index is not None:
        where["index"] = text.index
    return where


def _risky(text: NewText, verdict: Any) -> ApiError:
    what = "risky" if verdict.suggest == "risky" else "in need of a review"
    return ApiError(
        "content.risky",
        422,
        f"{text.field} holds text the platform finds {what} ({verdict.label_name})",
        {
            **_where(text),
            "suggest": verdict.suggest,
            "label": verdict.label,
            "label_name": verdict.label_name,
            "trace_id": verdict.trace_id,
        },
    )


async def gated(gate: ContentGate, write: Callable[[], Awaitable[T]]) -> T:
    """Run `write` (which calls gate.admit in its transaction) until its texts are checked."""
    for _ in range(ROUNDS):
        try:
            return await write()
        except TextsToCheck as needed:
            await gate.check(needed.texts)
    raise ApiError(
        "records.version_conflict",
        409,
        "the record's text kept changing while it was checked; retry",
    )

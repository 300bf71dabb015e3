"""Content security: is a user's text or media fit to publish? The platform's own checks, in
the app the user signed in through:

- WeChat's version-2 checks, made with the user's openid and one of WeChat's scenes (profile,
  comment, forum, social_log): msgSecCheck for text, at once; mediaCheckAsync for images and
  audio, answered later by a `wxa_media_check` push;
- Douyin's, made for the app (they take no user, so a Douyin guest is checked too): antidirt
  for text, censor/image for images, both at once; Douyin has no audio check and no "review".

Other platforms' users (QQ, Baidu, Alipay, and accounts with no platform sign-in) cannot be
checked: `content.unchecked` (422).

A text longer than one call takes (2500 characters) is checked in overlapping pieces; the
worst piece decides. Verdicts of plain texts are remembered for a few minutes per (user, app, scene,
text), so the records feature can check a write before its transaction and find the verdict
inside it. Outages, timeouts and quota errors are `content.unavailable` (503), never a pass.
A media check is a row (`content_media_checks`): on WeChat pending until `record_media_result`
stores the pushed verdict, once; on Douyin decided when made. A `@job("content.media_checked")`
handler, when declared, gets each verdict as a durable job.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from minibase.auth.identities import guest_apps, list_identities
from minibase.clock import isoformat
from minibase.errors import ApiError
from minibase.gateway import platform_failure
from minibase.messaging.content_verdicts import (
    COLUMNS,
    SEVERITY,
    MediaCheck,
    TextVerdict,
    list_media_checks,
    pieces,
)
from minibase.platforms import CONTENT_SCENES, ContentVerdict, PlatformError
from minibase.platforms.douyin.content import IMAGE_NOT_DOWNLOADED, MAX_TASKS
from minibase.store.database import Connection

if TYPE_CHECKING:
    from minibase.auth.apps import PlatformApp
    from minibase.messaging.push import PushMessage
    from minibase.services import Services

log = logging.getLogger("minibase.content")
MEDIA_RESULT_HANDLER = "minibase.media_check"
T = TypeVar("T")

CONTENT_PLATFORMS = ("wechat", "douyin")  # the platforms whose checks minibase calls
MEDIA_CHECKED_JOB = "content.media_checked"
MAX_TEXT = 25_000  # characters one check takes (ten calls)
MEDIA_TYPES: Mapping[str, int] = {"audio": 1, "image": 2}
REMEMBER_SECONDS = 300.0
REMEMBER_MAX = 10_000
UNAVAILABLE_ERRCODES = frozenset({-1, 45009, 45011})
# 40003 unknown openid, 43104 openid of another app, 61010 not in the app for two hours
UNCHECKABLE_ERRCODES = frozenset({40003, 43104, 61010})


def _detail_json(verdict: ContentVerdict) -> str:
    """A verdict's detail as the `detail` column stores it."""
    return orjson.dumps([dict(item) for item in verdict.detail]).decode()


@dataclass(frozen=True)
class Author:
    """Whose content is checked: the app they signed in through, and their openid there
    (WeChat checks a user's content; Douyin's checks take no user, and a guest has none)."""

    platform: str
    appid: str
    openid: str | None


def unchecked_platform(platform: str | None) -> ApiError:
    """The refusal for a user signed in through a platform minibase checks no content on."""
    where = f"{platform} users" if platform else "users without a WeChat or Douyin sign-in"
    return ApiError(
        "content.unchecked",
        422,
        f"content of {where} cannot be checked: minibase checks content on WeChat and Douyin",
    )


def _invalid(message: str) -> ApiError:
    return ApiError("content.invalid", 400, message)


def scene_number(scene: Any) -> int:
    if not isinstance(scene, str) or scene not in CONTENT_SCENES:
        raise _invalid(f"scene is one of {', '.join(CONTENT_SCENES)}")
    return CONTENT_SCENES[scene]


def failure(exc: PlatformError | ApiError) -> ApiError:
    """A platform's refusal as ours: outages and quotas are unavailable, an openid WeChat
    will not check for is unchecked, the rest as any platform error."""
    if isinstance(exc, ApiError):
        if exc.code in ("platform.unavailable", "platform.rate_limited"):
            return ApiError("content.unavailable", 503, exc.message, exc.details)
        return exc
    details: dict[str, Any] = {"platform": exc.platform, "errcode": exc.errcode}
    if exc.kind in ("unavailable", "rate_limited") or exc.errcode in UNAVAILABLE_ERRCODES:
        message = f"{exc.platform} could not check the content now; retry later"
        return ApiError("content.unavailable", 503, message, details)
    if exc.errcode in UNCHECKABLE_ERRCODES:
        message = (
            f"{exc.platform} will not check content for this user now (errcode {exc.errcode}:"
            " the user must have used the mini program in the last two hours)"
        )
        return ApiError("content.unchecked", 422, message, details)
    return platform_failure(exc, client_input=False)


class ContentChecks:
    def __init__(self, services: Services) -> None:
        self._services = services
        # (user, appid, scene, sha256 of the text) -> (until, verdict)
        self._verdicts: OrderedDict[tuple[str, str, str, str], tuple[float, TextVerdict]] = (
            OrderedDict()
        )
        # WeChat pushes each media verdict to the app's message server (docs/push.md)
        services.push.handle(
            MEDIA_RESULT_HANDLER, self._pushed, msg_type="event", event="wxa_media_check"
        )

    async def _pushed(self, message: PushMessage) -> None:
        """A wxa_media_check push, as a durable job: its verdict recorded once. A malformed
        event is logged, not retried: another delivery of it would be as malformed."""
        try:
            await self.record_media_result(message.appid, message.fields)
        except ApiError as exc:
            log.warning("push %s: a wxa_media_check event refused: %s", message.id, exc.message)

    def covers(self, platform: str | None) -> bool:
        """Does minibase check the content of users signed in through `platform`?"""
        return platform in CONTENT_PLATFORMS

    async def author(self, user_id: str, appid: str | None) -> Author:
        """The user's sign-in whose app checks the content: in `appid`, or their only app on a
        platform with checks (WeChat, Douyin; a Douyin guest's too)."""
        async with self._services.db.reader() as reader:
            found = [
                Author(i.platform, i.appid, i.openid)
                for i in await list_identities(reader, user_id)
                if self.covers(i.platform)
            ]
            found += [Author(*app, None) for app in await guest_apps(reader, user_id)]
        if appid is not None:
            found = [author for author in found if author.appid == appid]
        if not found:
            where = f" through {appid}" if appid else ""
            raise ApiError(
                "content.unchecked",
                422,
                f"the user has not signed in with WeChat or Douyin{where}: minibase checks"
                " content on those only",
            )
        if len({author.appid for author in found}) > 1:
            raise _invalid("appid is required: the user signed in through several apps")
        return found[-1]

    async def _call(self, app: PlatformApp, call: Callable[[Any, str], Awaitable[T]]) -> T:
        """`call(client, token)` with the app's shared token; its failure as ours."""
        services = self._services
        client = services.platforms.client(app)
        try:
            return await services.access_tokens.calling(app, lambda token: call(client, token))
        except (PlatformError, ApiError) as exc:
            raise failure(exc) from None

    # -- text -----------------------------------------------------------------------------

    def _key(self, user_id: str, appid: str, scene: str, content: str) -> tuple[str, str, str, str]:
        return (user_id, appid, scene, hashlib.sha256(content.encode()).hexdigest())

    def remembered(self, user_id: str, appid: str, scene: str, content: str) -> TextVerdict | None:
        """The verdict of this text for this user and scene, if checked in the last minutes."""
        key = self._key(user_id, appid, scene, content)
        found = self._verdicts.get(key)
        if found is None:
            return None
        if found[0] < self._services.clock.timestamp():
            del self._verdicts[key]
            return None
        return found[1]

    def _remember(self, key: tuple[str, str, str, str], verdict: TextVerdict) -> None:
        self._verdicts[key] = (self._services.clock.timestamp() + REMEMBER_SECONDS, verdict)
        self._verdicts.move_to_end(key)
        while len(self._verdicts) > REMEMBER_MAX:
            self._verdicts.popitem(last=False)

    async def check_text(
        self,
        user_id: str,
        appid: str | None,
        content: Any,
        *,
        scene: Any = "comment",
        title: str | None = None,
        nickname: str | None = None,
        signature: str | None = None,
    ) -> TextVerdict:
        """The platform's verdict on a text the user wrote (in pieces when long)."""
        number = scene_number(scene)
        if not isinstance(content, str) or not content.strip():
            raise _invalid("content must be a non-empty string")
        if len(content) > MAX_TEXT:
            raise _invalid(f"content is longer than {MAX_TEXT} characters")
        extra = {"title": title, "nickname": nickname, "signature": signature}
        for name, value in extra.items():
            if value is not None and not isinstance(value, str):
                raise _invalid(f"{name} must be a string")
        author = await self.author(user_id, appid)
        app = await self._services.apps.get(author.platform, author.appid)
        given = {name: value for name, value in extra.items() if value is not None}
        if author.platform == "douyin":
            verdicts = await self._douyin_texts(app, [*pieces(content), *given.values()])
        else:
            assert author.openid is not None
            verdicts = [
                await self._wechat_piece(app, author.openid, piece, number, given if not i else {})
                for i, piece in enumerate(pieces(content))
            ]
        worst = max(verdicts, key=lambda verdict: SEVERITY[verdict.suggest])
        if not given:
            self._remember(self._key(user_id, author.appid, str(scene), content), worst)
        return worst

    async def _wechat_piece(
        self, app: PlatformApp, openid: str, piece: str, scene: int, given: Mapping[str, str]
    ) -> TextVerdict:
        """msgSecCheck of one piece (`given`: the title, nickname and signature, if any)."""
        answer: ContentVerdict = await self._call(
            app,
            lambda client, token: client.msg_sec_check(
                token, openid=openid, content=piece, scene=scene, **given
            ),
        )
        return TextVerdict.of(answer)

    async def _douyin_texts(self, app: PlatformApp, texts: list[str]) -> list[TextVerdict]:
        """antidirt of each text (the pieces, a title ...), MAX_TASKS to a call."""
        verdicts: list[TextVerdict] = []
        for start in range(0, len(texts), MAX_TASKS):
            verdicts += await self._antidirt(app, texts[start : start + MAX_TASKS])
        return verdicts

    async def _antidirt(self, app: PlatformApp, batch: list[str]) -> list[TextVerdict]:
        answers: list[ContentVerdict] = await self._call(
            app, lambda client, token: client.antidirt(token, batch)
        )
        return [TextVerdict.of(answer) for answer in answers]

    # -- media ----------------------------------------------------------------------------

    async def check_media(
        self,
        user_id: str,
        appid: str | None,
        media_url: Any,
        media_type: Any,
        *,
        scene: Any = "comment",
    ) -> MediaCheck:
        """Ask the platform to check an image or audio file; the check, pending."""
        number = scene_number(scene)
        if (
            not isinstance(media_url, str)
            or not media_url.startswith(("https://", "http://"))
            or len(media_url) > 2048
        ):
            raise _invalid("media_url must be an http(s) URL the platform can download")
        if media_type not in MEDIA_TYPES:
            raise _invalid("media_type is image or audio")
        author = await self.author(user_id, appid)
        app = await self._services.apps.get(author.platform, author.appid)
        if author.platform == "douyin":
            return await self._douyin_image(user_id, app, media_url, media_type, scene)
        assert author.openid is not None
        openid = author.openid
        trace_id: str = await self._call(
            app,
            lambda client, token: client.media_check_async(
                token,
                openid=openid,
                media_url=media_url,
                media_type=MEDIA_TYPES[media_type],
                scene=number,
            ),
        )
        stamp = isoformat(self._services.clock.now())
        async with self._services.db.transaction() as conn:
            row = await conn.fetch_one(
                f"INSERT INTO content_media_checks ({COLUMNS}) VALUES (?, 'wechat', ?, ?, ?, ?,"
                f" ?, 'pending', NULL, NULL, ?, ?, NULL) RETURNING {COLUMNS}",
                trace_id,
                app.appid,
                user_id,
                media_url,
                media_type,
                scene,
                stamp,
                stamp,
            )
        assert row is not None
        return MediaCheck.from_row(row)

    async def _douyin_image(
        self, user_id: str, app: PlatformApp, media_url: str, media_type: str, scene: str
    ) -> MediaCheck:
        """censor/image, answered at once: the check is stored decided (and its job queued,
        as a pushed WeChat verdict's is)."""
        if media_type != "image":
            raise ApiError(
                "content.unchecked", 422, "Douyin checks images only: audio cannot be checked"
            )
        try:
            verdict: ContentVerdict = await self._call(
                app, lambda client, token: client.censor_image(token, image=media_url)
            )
        except ApiError as exc:
            if exc.details.get("errcode") == IMAGE_NOT_DOWNLOADED:
                raise _invalid("Douyin could not download media_url") from None
            raise
        services = self._services
        stamp = isoformat(services.clock.now())
        async with services.db.transaction() as conn:
            row = await conn.fetch_one(
                f"INSERT INTO content_media_checks ({COLUMNS}) VALUES (?, 'douyin', ?, ?, ?, ?,"
                f" ?, ?, ?, {conn.dialect.json_param()}, ?, ?, ?) RETURNING {COLUMNS}",
                services.ids.new(),
                app.appid,
                user_id,
                media_url,
                media_type,
                scene,
                verdict.suggest,
                verdict.label,
                _detail_json(verdict),
                stamp,
                stamp,
                stamp,
            )
            assert row is not None
            check = MediaCheck.from_row(row)
            await self._checked(conn, check)
        return check

    async def media_check(self, trace_id: str) -> MediaCheck:
        async with self._services.db.reader() as reader:
            row = await reader.fetch_one(
                f"SELECT {COLUMNS} FROM content_media_checks WHERE trace_id = ?", trace_id
            )
        if row is None:
            raise ApiError("content.not_found", 404, f"no media check {trace_id!r}")
        return MediaCheck.from_row(row)

    async def list_media_checks(
        self, *, before: str | None = None, limit: int = 20, **filters: str | None
    ) -> list[MediaCheck]:
        """For admins: newest first, filtered by user, platform, appid, media_type, state."""
        async with self._services.db.reader() as reader:
            return await list_media_checks(reader, before=before, limit=limit, **filters)

    async def record_media_result(self, appid: str, event: Mapping[str, Any]) -> MediaCheck | None:
        """Store a `wxa_media_check` push event's verdict on its pending check (once: a
        repeated event changes nothing). An unknown trace_id is logged and ignored (None); an
        event of another app than `appid`, or than the check's, is refused."""
        if not isinstance(event, Mapping) or event.get("Event") != "wxa_media_check":
            raise ApiError("content.invalid_event", 400, "not a wxa_media_check event")
        trace_id = event.get("trace_id")
        if not isinstance(trace_id, str) or not trace_id:
            raise ApiError("content.invalid_event", 400, "the event has no trace_id")
        if event.get("appid", appid) != appid:
            raise ApiError("content.invalid_event", 400, "the event is of another app")
        try:
            verdict = ContentVerdict.from_answer(event)
        except PlatformError as exc:
            raise ApiError("content.invalid_event", 400, exc.message) from None
        services = self._services
        stamp = isoformat(services.clock.now())
        lock = " FOR UPDATE" if services.db.dialect.name == "postgres" else ""
        async with services.db.transaction() as conn:
            row = await conn.fetch_one(
                f"SELECT {COLUMNS} FROM content_media_checks WHERE trace_id = ?{lock}", trace_id
            )
            if row is None:
                log.warning("a media check result for unknown trace_id %s is ignored", trace_id)
                return None
            check = MediaCheck.from_row(row)
            if check.appid != appid:
                raise ApiError("content.invalid_event", 400, "the check is of another app")
            if check.state != "pending":
                return check
            row = await conn.fetch_one(
                "UPDATE content_media_checks SET state = ?, label = ?,"
                f" detail = {conn.dialect.json_param()}, updated = ?, checked_at = ?"
                f" WHERE trace_id = ? AND state = 'pending' RETURNING {COLUMNS}",
                verdict.suggest,
                verdict.label,
                _detail_json(verdict),
                stamp,
                stamp,
                trace_id,
            )
            assert row is not None
            check = MediaCheck.from_row(row)
            await self._checked(conn, check)
        return check

    async def _checked(self, conn: Connection, check: MediaCheck) -> None:
        """A verdict stored: queue it for a `@job("content.media_checked")` handler, if the
        functions folder declared one, in the transaction that stores it; a file field's image
        it was about shows or stays hidden by it from that commit on."""
        await self._services.files.checked(conn, check.trace_id, check.state)
        registry = getattr(self._services.functions, "registry", None)
        if registry is not None and MEDIA_CHECKED_JOB in registry.jobs:
            await self._services.jobs.enqueue(
                MEDIA_CHECKED_JOB,
                check.to_json(),
                key=f"{MEDIA_CHECKED_JOB}:{check.trace_id}",
                conn=conn,
            )

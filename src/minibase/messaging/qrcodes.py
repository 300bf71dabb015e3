"""Mini program codes (WeChat `wxa/getwxacodeunlimit`), made once and kept.

A request is normalized (defaults filled in, the colour dropped when the platform picks it)
and hashed; the app and that hash name one row of `qr_codes`, which holds the image. The same
parameters therefore never reach the platform twice: concurrent requests in a process wait for
the one call in flight, and processes sharing a database claim the row first (an upsert that
only one wins; a claim lapses after a lease, so a process that dies while making a code frees
it) while the others wait for its image. A failed call drops its claim. Codes are permanent on
WeChat's side, so a kept one never goes stale.

Bad parameters are refused before any call (`qrcodes.invalid`); a page the published app does
not have is `qrcodes.invalid_page` (41030); quota (45009), outages and refused credentials are
the platform's errors (503/502), and nothing is stored for any of them.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from minibase.auth.apps import PlatformApp
from minibase.clock import isoformat
from minibase.errors import ApiError
from minibase.gateway import platform_failure
from minibase.platforms import PlatformError
from minibase.platforms.wechat.links import (
    DEFAULT_WIDTH,
    ENV_VERSIONS,
    MAX_WIDTH,
    MIN_WIDTH,
    SCENE,
    CodeImage,
)
from minibase.store.database import Row, json_column
from minibase.store.pages import newest_first

if TYPE_CHECKING:
    from minibase.services import Services

COLUMNS = "id, platform, appid, params, content_type, etag, size, image, created"
LISTED_COLUMNS = "id, platform, appid, params, content_type, etag, size, created"
WAIT_STEP = 0.05  # seconds between two looks while another process makes the code
_FIELDS = frozenset(
    {
        "appid",
        "scene",
        "page",
        "check_path",
        "env_version",
        "width",
        "auto_color",
        "line_color",
        "is_hyaline",
    }
)
_REFUSED_INPUT = {
    41030: ("qrcodes.invalid_page", "the page is not a page of the published app"),
    40169: ("qrcodes.invalid", "the scene is empty or longer than 32 characters"),
    40129: ("qrcodes.invalid", "the scene has characters the platform does not take"),
    40097: ("qrcodes.invalid", "the platform refused the parameters"),
}


def _invalid(message: str) -> ApiError:
    return ApiError("qrcodes.invalid", 400, message)


@dataclass(frozen=True)
class KeptCode:
    """A kept code as a list shows it: its parameters and the URL of its image (not the image)."""

    id: str
    platform: str
    appid: str
    params: dict[str, Any]  # what was sent, defaults filled in
    content_type: str
    etag: str  # quoted, as the ETag header carries it
    size: int
    created: str

    @classmethod
    def from_listed(cls, row: Row) -> KeptCode:
        """From a row of LISTED_COLUMNS."""
        return cls(
            id=row[0],
            platform=row[1],
            appid=row[2],
            params=json_column(row[3]),
            content_type=row[4],
            etag=row[5],
            size=int(row[6]),
            created=row[7],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "appid": self.appid,
            **self.params,
            "content_type": self.content_type,
            "etag": self.etag,
            "size": self.size,
            "created": self.created,
            "url": f"/api/admin/qrcodes/{self.id}",
        }


@dataclass(frozen=True)
class QrCode(KeptCode):
    image: bytes = field(repr=False)
    made: bool = False  # True when this request asked the platform for it

    @classmethod
    def from_row(cls, row: Row, *, made: bool = False) -> QrCode:
        params = json_column(row[3])
        return cls(
            id=row[0],
            platform=row[1],
            appid=row[2],
            params=params,
            content_type=row[4],
            etag=row[5],
            size=int(row[6]),
            image=bytes(row[7]),
            created=row[8],
            made=made,
        )


def _boolean(body: Mapping[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise _invalid(f"{name} must be true or false")
    return value


def _colour(value: Any) -> dict[str, int]:
    if (
        not isinstance(value, Mapping)
        or set(value) != {"r", "g", "b"}
        or not all(
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 255 for v in value.values()
        )
    ):
        raise _invalid('line_color is {"r": 0-255, "g": 0-255, "b": 0-255}')
    return {"r": value["r"], "g": value["g"], "b": value["b"]}


def check_code(body: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The app and the normalized parameters of a code request (every default explicit)."""
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise _invalid(f"unknown fields {unknown}; a code has {sorted(_FIELDS)}")
    appid, scene = body.get("appid"), body.get("scene")
    if not isinstance(appid, str) or not appid:
        raise _invalid("appid is required: the WeChat app the code opens")
    if not isinstance(scene, str) or not SCENE.fullmatch(scene):
        raise _invalid("scene is 1-32 characters of 0-9 A-Z a-z and !#$&'()*+,/:;=?@-._~")
    page = body.get("page")
    page = "" if page is None else page
    if not isinstance(page, str) or page.startswith("/") or "?" in page or len(page) > 1024:
        raise _invalid('page is a path like "pages/index/index": no leading "/", no query')
    width = body.get("width", DEFAULT_WIDTH)
    if isinstance(width, bool) or not isinstance(width, int) or not MIN_WIDTH <= width <= MAX_WIDTH:
        raise _invalid(f"width is a whole number of pixels from {MIN_WIDTH} to {MAX_WIDTH}")
    env_version = body.get("env_version", "release")
    if env_version not in ENV_VERSIONS:
        raise _invalid(f"env_version is one of {', '.join(ENV_VERSIONS)}")
    auto_color = _boolean(body, "auto_color", False)
    line_color = _colour(body.get("line_color", {"r": 0, "g": 0, "b": 0}))
    params: dict[str, Any] = {
        "scene": scene,
        "page": page or None,  # None: the app's home page
        "check_path": _boolean(body, "check_path", True),
        "env_version": env_version,
        "width": width,
        "auto_color": auto_color,
        "line_color": None if auto_color else line_color,  # the platform picks it
        "is_hyaline": _boolean(body, "is_hyaline", False),
    }
    return appid, params


def params_hash(params: Mapping[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(params, option=orjson.OPT_SORT_KEYS)).hexdigest()


def code_failure(exc: PlatformError) -> ApiError:
    known = _REFUSED_INPUT.get(exc.errcode) if isinstance(exc.errcode, int) else None
    if known is None:
        return platform_failure(exc, client_input=False)
    code, message = known
    return ApiError(code, 400, f"wechat: {message}", {"errcode": exc.errcode})


class QrCodes:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._maker = secrets.token_hex(8)  # this process, as the maker of a claimed code
        self._making: dict[tuple[str, str], asyncio.Lock] = {}
        self.lease = services.settings.platform_timeout * 3  # a claim's life at most

    async def make(self, body: Mapping[str, Any]) -> QrCode:
        """The code for these parameters: the kept one, else made once and kept."""
        appid, params = check_code(body)
        app = await self._services.apps.get("wechat", appid)
        key = (app.appid, params_hash(params))
        kept = await self._find(*key)
        if kept is not None:
            return kept
        lock = self._making.setdefault(key, asyncio.Lock())
        try:
            async with lock:  # one task per process; the claim is for the other processes
                return await self._kept_or_made(app, key, params)
        finally:
            if not lock.locked():
                self._making.pop(key, None)

    async def _kept_or_made(
        self, app: PlatformApp, key: tuple[str, str], params: dict[str, Any]
    ) -> QrCode:
        clock = self._services.clock
        deadline = clock.timestamp() + self.lease * 2
        while True:
            kept = await self._find(*key)
            if kept is not None:
                return kept
            if await self._claim(key, params):
                try:
                    image = await self._ask(app, params)
                except BaseException:
                    await self._unclaim(key)
                    raise
                return await self._fill(key, image)
            if clock.timestamp() > deadline:
                raise ApiError(
                    "platform.unavailable", 503, "wechat: another process is making this code"
                )
            await asyncio.sleep(WAIT_STEP)

    async def _ask(self, app: PlatformApp, params: dict[str, Any]) -> CodeImage:
        client = self._services.platforms.client(app)
        sent = {name: value for name, value in params.items() if value is not None}
        try:
            image: CodeImage = await self._services.access_tokens.calling(
                app, lambda token: client.get_unlimited_qrcode(token, **sent)
            )
        except PlatformError as exc:
            raise code_failure(exc) from None
        return image

    async def _find(self, appid: str, digest: str) -> QrCode | None:
        async with self._services.db.reader() as reader:
            row = await reader.fetch_one(
                f"SELECT {COLUMNS} FROM qr_codes WHERE platform = 'wechat' AND appid = ?"
                " AND params_hash = ? AND image IS NOT NULL",
                appid,
                digest,
            )
        return None if row is None else QrCode.from_row(row)

    async def _claim(self, key: tuple[str, str], params: dict[str, Any]) -> bool:
        """This process makes the code: a new claim, or one whose maker's lease ran out."""
        services = self._services
        now = services.clock.now()
        async with services.db.transaction() as conn:
            claimed = await conn.execute(
                "INSERT INTO qr_codes (id, platform, appid, params_hash, params, maker,"
                f" making_until, created) VALUES (?, 'wechat', ?, ?, {conn.dialect.json_param()},"
                " ?, ?, ?) ON CONFLICT (platform, appid, params_hash) DO UPDATE SET"
                " maker = excluded.maker, making_until = excluded.making_until"
                " WHERE qr_codes.image IS NULL AND qr_codes.making_until < ?",
                services.ids.new(),
                key[0],
                key[1],
                orjson.dumps(params).decode(),
                self._maker,
                now.timestamp() + self.lease,
                isoformat(now),
                now.timestamp(),
            )
        return claimed == 1

    async def _unclaim(self, key: tuple[str, str]) -> None:
        """Nothing was made: the claim goes, so nothing is stored and anyone may try again."""
        async with self._services.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM qr_codes WHERE platform = 'wechat' AND appid = ? AND params_hash = ?"
                " AND image IS NULL AND maker = ?",
                *key,
                self._maker,
            )

    async def _fill(self, key: tuple[str, str], image: CodeImage) -> QrCode:
        """The image into this process's claim (if another maker took it over after our lease
        and filled it first, theirs stays: the same parameters make the same code)."""
        services = self._services
        etag = f'"{hashlib.sha256(image.data).hexdigest()[:32]}"'
        async with services.db.transaction() as conn:
            filled = await conn.execute(
                "UPDATE qr_codes SET image = ?, content_type = ?, etag = ?, size = ?,"
                " created = ?, maker = NULL, making_until = NULL WHERE platform = 'wechat'"
                " AND appid = ? AND params_hash = ? AND image IS NULL",
                image.data,
                image.content_type,
                etag,
                len(image.data),
                isoformat(services.clock.now()),
                *key,
            )
            row = await conn.fetch_one(
                f"SELECT {COLUMNS} FROM qr_codes WHERE platform = 'wechat' AND appid = ?"
                " AND params_hash = ?",
                *key,
            )
        if row is None or row[7] is None:  # the claim was taken over and given up meanwhile
            raise ApiError("platform.unavailable", 503, "wechat: the code was not kept; retry")
        return QrCode.from_row(row, made=filled == 1)

    async def list(
        self, *, before: str | None = None, limit: int = 20, appid: str | None = None
    ) -> list[KeptCode]:
        """Kept codes (not claims still being made), newest first, without their images."""
        sql, args = newest_first(
            "qr_codes",
            LISTED_COLUMNS,
            before=before,
            limit=limit,
            always="image IS NOT NULL",
            appid=appid,
        )
        async with self._services.db.reader() as reader:
            rows = await reader.fetch_all(sql, *args)
        return [KeptCode.from_listed(row) for row in rows]

    async def get(self, code_id: str) -> QrCode:
        async with self._services.db.reader() as reader:
            row = await reader.fetch_one(
                f"SELECT {COLUMNS} FROM qr_codes WHERE id = ? AND image IS NOT NULL", code_id
            )
        if row is None:
            raise ApiError("qrcodes.not_found", 404, f"no QR code {code_id!r}")
        return QrCode.from_row(row)

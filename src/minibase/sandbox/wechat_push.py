"""WeChat's message push as the platform does it: an app's "message server" setting is checked
with a signed GET (the server must answer its echostr), then messages and events are POSTed to
the URL, signed, and in compatible or safe mode encrypted with the EncodingAESKey; the
server's answer is kept, its encrypted reply opened.

A push may be broken on purpose: `forge` (signed with another token), `stale` (a timestamp
ten minutes old) or `replay` (the app's previous push again, byte for byte). `times` delivers
one message several times, each signed afresh, as WeChat retries a push it got no answer to;
`concurrent` copies go at once in each round.

Other sandbox features push their events with `push_event(state, appid, fields)`.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response

from minibase.platforms.transport import tls_context
from minibase.platforms.wechat.push import FORMATS, MODES, PushCrypto, PushError, aes_key
from minibase.sandbox import identities
from minibase.sandbox.deliveries import delivery_from_json
from minibase.sandbox.errors import SandboxError
from minibase.sandbox.push_book import PushSetting
from minibase.sandbox.routing import Route, json_response, read_json
from minibase.sandbox.state import SandboxState

DELIVERY_TIMEOUT = 5.0  # WeChat waits five seconds for an answer
STALE_BY = 600  # seconds: older than any receiver's replay window


def _invalid(message: str) -> SandboxError:
    return SandboxError("sandbox.invalid_request", 400, message)


def original_id(appid: str) -> str:
    """The app's original id (gh_...): the ToUserName of its pushes."""
    return "gh_" + hashlib.sha256(appid.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class PushDelivery:
    times: int = 1
    concurrent: int = 1
    forge: bool = False
    stale: bool = False
    replay: bool = False

    @classmethod
    def from_json(cls, options: Mapping[str, Any] | None) -> PushDelivery:
        return delivery_from_json(cls, options)


class WeChatPushControl:
    def __init__(self, state: SandboxState) -> None:
        self._state = state

    async def configure(
        self,
        appid: str,
        url: str,
        token: str,
        *,
        encoding_aes_key: str | None = None,
        mode: str = "plaintext",
        format: str = "xml",
        verify: bool = True,
    ) -> dict[str, Any]:
        """Save the app's message-server setting; with `verify`, first the GET the console
        sends (the setting is refused unless the server answers the echostr)."""
        chosen_mode = next((known for known in MODES if known == mode), None)
        chosen_format = next((known for known in FORMATS if known == format), None)
        if chosen_mode is None or chosen_format is None:
            raise _invalid(f"mode is one of {', '.join(MODES)}; format xml or json")
        if not url.startswith(("http://", "https://")) or not token:
            raise _invalid("url (http or https) and token are required")
        if mode != "plaintext" and encoding_aes_key is None:
            raise _invalid(f"{mode} mode needs the encoding_aes_key")
        if encoding_aes_key is not None:
            try:
                aes_key(encoding_aes_key)
            except PushError as exc:
                raise _invalid(f"encoding_aes_key: {exc.message}") from None
        with self._state.lock:
            if self._state.app("wechat", appid) is None:
                raise SandboxError("sandbox.unknown_app", 404, f"no wechat app {appid!r}")
        setting = PushSetting(url, token, encoding_aes_key, chosen_mode, chosen_format)
        answer: dict[str, Any] = {"appid": appid, "mode": mode, "format": format}
        if verify:
            verified = await self._verify(appid, setting)
            answer["verification"] = verified
            if not verified["ok"]:
                raise SandboxError(
                    "sandbox.push_url_refused",
                    409,
                    f"the server did not answer the echostr: {verified['status']}",
                )
        with self._state.lock:
            self._state.push.settings[appid] = setting
        return answer

    async def _verify(self, appid: str, setting: PushSetting) -> dict[str, Any]:
        crypto = PushCrypto(setting.token, setting.encoding_aes_key, appid)
        query, _ = crypto.seal_push({}, "xml", "plaintext", timestamp=int(self._state.now()))
        echostr = secrets.token_hex(8)
        async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT, verify=tls_context()) as http:
            try:
                response = await http.get(setting.url, params={**query, "echostr": echostr})
            except httpx.HTTPError as error:
                return {"ok": False, "status": None, "body": f"{type(error).__name__}: {error}"}
        ok = response.status_code == 200 and response.text == echostr
        return {"ok": ok, "status": response.status_code, "body": response.text}

    def _setting(self, appid: str) -> PushSetting:
        with self._state.lock:
            setting = self._state.push.settings.get(appid)
        if setting is None:
            raise SandboxError(
                "sandbox.push_not_configured", 409, f"app {appid!r} has no message server set"
            )
        return setting

    def message(
        self, appid: str, fields: Mapping[str, Any], person: str | None = None
    ) -> dict[str, Any]:
        """The fields WeChat would send: ToUserName, FromUserName (the person's openid),
        CreateTime, and a MsgId for messages that are not events, unless given."""
        now = int(self._state.now())
        message: dict[str, Any] = {"ToUserName": original_id(appid)}
        if person is not None:
            message["FromUserName"] = identities.openid("wechat", appid, person)
        message["CreateTime"] = now
        message.update(fields)
        message.setdefault("MsgType", "event")
        if message["MsgType"] != "event":
            message.setdefault("MsgId", int.from_bytes(secrets.token_bytes(7), "big"))
        return message

    async def push(
        self,
        appid: str,
        fields: Mapping[str, Any],
        *,
        person: str | None = None,
        delivery: PushDelivery | None = None,
    ) -> dict[str, Any]:
        """Push a message (made with `message`) to the app's server, as asked."""
        setting = self._setting(appid)
        options = delivery or PushDelivery()
        message = self.message(appid, fields, person)
        crypto = PushCrypto(setting.token, setting.encoding_aes_key, appid)
        outcomes: list[dict[str, Any]] = []
        async with httpx.AsyncClient(timeout=DELIVERY_TIMEOUT, verify=tls_context()) as http:
            for _ in range(options.times):
                copies = [
                    self._signed(appid, crypto, setting, message, options)
                    for _ in range(options.concurrent)
                ]
                outcomes.extend(
                    await asyncio.gather(
                        *(_post(http, setting, crypto, query, body) for query, body in copies)
                    )
                )
        with self._state.lock:
            self._state.push.deliveries.extend(
                {"appid": appid, "message": message, **outcome} for outcome in outcomes
            )
        return {"message": message, "deliveries": outcomes}

    def _signed(
        self,
        appid: str,
        crypto: PushCrypto,
        setting: PushSetting,
        message: Mapping[str, Any],
        options: PushDelivery,
    ) -> tuple[dict[str, str], bytes]:
        with self._state.lock:
            latest = self._state.push.latest.get(appid)
        if options.replay:
            if latest is None:
                raise SandboxError("sandbox.nothing_to_replay", 409, f"{appid!r} pushed nothing")
            return latest
        signer = crypto
        if options.forge:
            signer = PushCrypto(secrets.token_hex(8), setting.encoding_aes_key, appid)
        timestamp = int(self._state.now()) - (STALE_BY if options.stale else 0)
        sealed = signer.seal_push(
            message,
            setting.format,
            setting.mode,
            timestamp=timestamp,
        )
        with self._state.lock:
            self._state.push.latest[appid] = sealed
        return sealed

    async def event(
        self, appid: str, fields: Mapping[str, Any], person: str | None = None
    ) -> list[dict[str, Any]]:
        """Push an event if the app set a message server (nothing happens otherwise)."""
        with self._state.lock:
            if appid not in self._state.push.settings:
                return []
        answer = await self.push(appid, {"MsgType": "event", **fields}, person=person)
        deliveries: list[dict[str, Any]] = answer["deliveries"]
        return deliveries

    def deliveries(self) -> list[dict[str, Any]]:
        with self._state.lock:
            return list(self._state.push.deliveries)


async def push_event(
    state: SandboxState, appid: str, fields: Mapping[str, Any], person: str | None = None
) -> list[dict[str, Any]]:
    """Push an event (e.g. {"Event": "wxa_media_check", ...}) to the app's message server, if
    it set one (nothing is delivered otherwise); each delivery's status and answer."""
    return await WeChatPushControl(state).event(appid, fields, person)


async def _post(
    http: httpx.AsyncClient,
    setting: PushSetting,
    crypto: PushCrypto,
    query: Mapping[str, str],
    body: bytes,
) -> dict[str, Any]:
    kind = "application/json" if setting.format == "json" else "text/xml"
    try:
        response = await http.post(
            setting.url, params=dict(query), content=body, headers={"Content-Type": kind}
        )
    except httpx.HTTPError as error:
        return {"status": None, "body": f"{type(error).__name__}: {error}", "reply": None}
    outcome: dict[str, Any] = {"status": response.status_code, "body": response.text}
    outcome["reply"] = _reply(crypto, response)
    return outcome


def _reply(crypto: PushCrypto, response: httpx.Response) -> Any:
    """What the server replied (opened when encrypted); None for "success" or nothing."""
    if response.status_code != 200 or response.text in ("", "success"):
        return None
    try:
        return crypto.open_reply(response.content)
    except PushError as exc:
        return {"problem": exc.reason, "message": exc.message}


# -- /control/wechat/push ------------------------------------------------------------------


async def _body(request: Request) -> dict[str, Any]:
    body = await read_json(request)
    if body is None:
        raise _invalid("the body must be a JSON object")
    return body


def _text(body: Mapping[str, Any], name: str, default: str | None = None) -> str:
    value = body.get(name, default)
    if not isinstance(value, str) or not value:
        raise _invalid(f"{name} must be a non-empty string")
    return value


async def configure_route(request: Request, state: SandboxState) -> Response:
    body = await _body(request)
    key = body.get("encoding_aes_key")
    verify = body.get("verify", True)
    if (key is not None and not isinstance(key, str)) or not isinstance(verify, bool):
        raise _invalid("encoding_aes_key is a string, verify true or false")
    answer = await WeChatPushControl(state).configure(
        _text(body, "appid"),
        _text(body, "url"),
        _text(body, "token"),
        encoding_aes_key=key,
        mode=_text(body, "mode", "plaintext"),
        format=_text(body, "format", "xml"),
        verify=verify,
    )
    return json_response(answer)


async def push_route(request: Request, state: SandboxState) -> Response:
    body = await _body(request)
    message = body.get("message", {})
    person = body.get("person")
    if not isinstance(message, dict) or (person is not None and not isinstance(person, str)):
        raise _invalid("message is an object of WeChat's fields, person a name")
    answer = await WeChatPushControl(state).push(
        _text(body, "appid"), message, person=person, delivery=PushDelivery.from_json(body)
    )
    return json_response(answer)


async def deliveries_route(request: Request, state: SandboxState) -> Response:
    return json_response({"items": WeChatPushControl(state).deliveries()})


ROUTES = (
    Route("POST", "/control/wechat/push/config", configure_route),
    Route("POST", "/control/wechat/push", push_route),
    Route("GET", "/control/wechat/push/deliveries", deliveries_route),
)

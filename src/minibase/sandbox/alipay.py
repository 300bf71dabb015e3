"""Alipay's open-platform gateway (`gateway.do`) for `alipay.system.oauth.token` and the trade
methods (in `alipay_trade`), and the encrypted phone number `my.getPhoneNumber` hands a mini
program.

The sandbox plays the platform: it owns one RSA2 key pair per Sandbox ("the Alipay public
key" an app is configured with), verifies each request with the app's registered public key,
and signs each reply over the exact text of its response node, as the real gateway does.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from minibase.platforms.alipay import crypto
from minibase.sandbox import alipay_messages, alipay_trade, identities
from minibase.sandbox.routing import Route, read_params, text_response
from minibase.sandbox.state import App, CodeProblem, SandboxState

CODE_EXCHANGE = "alipay.system.oauth.token"
ACCESS_TOKEN_TTL = 1_296_000  # 15 days
REFRESH_TOKEN_TTL = 2_592_000  # 30 days
_CHINA = timezone(timedelta(hours=8))
_JSON = "application/json;charset=utf-8"

MISSING = ("40001", "Missing Required Arguments")
INVALID = ("40002", "Invalid Arguments")
UNAVAILABLE = ("20000", "Service Currently Unavailable")


def platform_keys(state: SandboxState) -> tuple[str, str]:
    """The sandbox's "Alipay platform" key pair (private, public PEM), made on first use."""
    with state.lock:
        if state.alipay_keys is None:
            state.alipay_keys = crypto.generate_rsa_keypair()
        return state.alipay_keys


def _node(problem: tuple[str, str], sub_code: str, sub_msg: str) -> dict[str, str]:
    code, msg = problem
    return {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}


def _unsigned(node: dict[str, str]) -> Response:
    """A gateway error raised before the caller is trusted (no or bad signature, unknown app):
    the real gateway sends these without a sign."""
    body = f'{{"error_response":{orjson.dumps(node).decode()}}}'
    return text_response(body, media_type=_JSON)


def _signed(
    state: SandboxState, node: dict[str, Any], *, error: bool = True, method: str = CODE_EXCHANGE
) -> Response:
    """`{"<node name>": node, "sign": ...}`, signed over the node's exact JSON text."""
    body = crypto.build_signed_response(method, node, platform_keys(state)[0], error=error)
    return text_response(body, media_type=_JSON)


def system_busy() -> Response:
    return _unsigned(_node(UNAVAILABLE, "aop.unknow-error", "系统繁忙"))


async def gateway(request: Request, state: SandboxState) -> Response:
    params = await read_params(request)
    app_id, method, sign = params.get("app_id"), params.get("method"), params.get("sign")
    if not app_id:
        return _unsigned(_node(MISSING, "isv.missing-app-id", "缺少AppID参数"))
    if not method:
        return _unsigned(_node(MISSING, "isv.missing-method", "缺少方法名参数"))
    if not sign:
        return _unsigned(_node(MISSING, "isv.missing-signature", "缺少签名参数"))
    with state.lock:
        app = state.app("alipay", app_id)
    if app is None:
        return _unsigned(_node(INVALID, "isv.invalid-app-id", "无效的AppID参数"))
    if not app.app_public_key or not crypto.verify_params(params, sign, app.app_public_key):
        message = (
            "验签出错,建议检查签名字符串或签名私钥与应用公钥是否匹配,网关生成的验签字符串为:"
            + crypto.signing_string(params)
        )
        return _unsigned(_node(INVALID, "isv.invalid-signature", message))
    if method in alipay_trade.METHODS:
        node = alipay_trade.answer(state, app, method, params)
        return _signed(state, node, error=False, method=method)
    if method == alipay_messages.METHOD:
        node = alipay_messages.answer(state, app, params)
        return _signed(state, node, error=False, method=method)
    if method != CODE_EXCHANGE:
        return _signed(state, _node(INVALID, "isv.invalid-method", "不存在的方法名"))
    return _oauth_token(state, app, params)


def _oauth_token(state: SandboxState, app: App, params: dict[str, str]) -> Response:
    if params.get("grant_type") != "authorization_code":
        return _signed(state, _node(INVALID, "isv.grant-type-invalid", "grant_type参数不正确"))
    with state.lock:
        code = state.redeem_code("alipay", app.appid, params.get("code", ""))
        now = state.clock.now()
    if isinstance(code, CodeProblem):
        return _signed(state, _node(INVALID, "isv.code-invalid", "授权码code无效"))
    node: dict[str, Any] = {
        "access_token": identities.alipay_token("authusrB"),
        "auth_start": now.astimezone(_CHINA).strftime("%Y-%m-%d %H:%M:%S"),
        "expires_in": ACCESS_TOKEN_TTL,
        "open_id": identities.openid("alipay", app.appid, code.person),
        "re_expires_in": REFRESH_TOKEN_TTL,
        "refresh_token": identities.alipay_token("authusrB"),
        "user_id": identities.alipay_user_id(code.person),
    }
    return _signed(state, node, error=False)


def encrypted_phone(state: SandboxState, app: App, phone: str) -> dict[str, str]:
    """What `my.getPhoneNumber` gives the mini program (its `response` string, parsed):
    the AES-encrypted number, signed (quoted, as an encrypted response is) by the platform."""
    assert app.aes_key is not None
    response, sign = crypto.encrypt_phone_number(phone, app.aes_key, platform_keys(state)[0])
    return {
        "response": response,
        "sign": sign,
        "sign_type": "RSA2",
        "encrypt_type": "AES",
        "charset": "UTF-8",
    }


ROUTES = (Route("POST", "/alipay/gateway.do", gateway), Route("GET", "/alipay/gateway.do", gateway))

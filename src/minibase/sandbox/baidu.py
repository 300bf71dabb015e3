"""Baidu smart-program login as spapi.baidu.com speaks it (`oauth/jscode2sessionkey`).

Parameters come form-encoded (many clients put them in the query string instead; both work).
Success is `{"openid", "session_key"}`; errors are `{"errno", "error", "error_description"}`.
The `error` words are Baidu OAuth's (invalid_client, invalid_grant); 10010100 is the errno its
documentation shows for bad parameters. The errno values of the other errors are not published
where we looked, so clients should branch on `error`.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import Response

from minibase.sandbox import identities
from minibase.sandbox.routing import Route, json_response, read_params
from minibase.sandbox.state import CodeProblem, SandboxState

PARAMETER_INVALID = (10010100, "parameter is invalid")
UNKNOWN_CLIENT = (10010101, "invalid_client")
INVALID_CODE = (10010102, "invalid_grant")
SYSTEM_BUSY = (10010500, "system busy")


def _error(problem: tuple[int, str], description: str) -> Response:
    errno, error = problem
    return json_response({"errno": errno, "error": error, "error_description": description})


def system_busy() -> Response:
    return _error(SYSTEM_BUSY, "service temporarily unavailable, retry later")


async def jscode2sessionkey(request: Request, state: SandboxState) -> Response:
    params = await read_params(request)
    code_value, client_id, sk = params.get("code"), params.get("client_id"), params.get("sk")
    if not code_value or not client_id or not sk:
        missing = [name for name in ("code", "client_id", "sk") if not params.get(name)]
        return _error(PARAMETER_INVALID, f"missing required parameter: {', '.join(missing)}")
    with state.lock:
        app = state.app("baidu", client_id)
        if app is None:
            return _error(UNKNOWN_CLIENT, "unknown client id")
        if not hmac.compare_digest(sk.encode(), app.secret.encode()):
            return _error(UNKNOWN_CLIENT, "invalid client secret")
        code = state.redeem_code("baidu", client_id, code_value)
    if isinstance(code, CodeProblem):
        return _error(INVALID_CODE, f"invalid authorization code: {code_value} ({code.value})")
    return json_response(
        {
            "openid": identities.openid("baidu", client_id, code.person),
            "session_key": code.session_key,
        }
    )


ROUTES = (Route("POST", "/baidu/oauth/jscode2sessionkey", jscode2sessionkey),)

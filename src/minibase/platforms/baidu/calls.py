"""Baidu smart program server calls, sans-IO.

Session key: POST /oauth/jscode2sessionkey, form {code, client_id: app key, sk: app secret},
answering {openid, session_key} or {errno, error, error_description}
(smartprogram.baidu.com, "Session Key"). Errors follow Baidu OAuth2: invalid_grant is a code
that is wrong, used or expired; invalid_client a wrong client_id or sk.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from minibase.platforms.errors import ErrorKind, PlatformError
from minibase.platforms.models import LoginSession
from minibase.platforms.transport import Call, json_object, required_str

ERROR_KINDS: Mapping[str, ErrorKind] = {
    "invalid_grant": "invalid_code",
    "invalid_client": "invalid_credentials",
}


def raise_for_error(body: Mapping[str, Any], http_status: int) -> None:
    errno = body.get("errno")
    error = body.get("error")
    if errno in (0, None) and not error:
        return
    kind = ERROR_KINDS.get(error, "other") if isinstance(error, str) else "other"
    description = body.get("error_description") or error or "no error_description"
    errcode = errno if errno not in (0, None) else error
    raise PlatformError("baidu", kind, str(description), errcode=errcode, http_status=http_status)


def code2session(base_url: str, app_key: str, secret: str, code: str) -> Call[LoginSession]:
    def parse(response: httpx.Response) -> LoginSession:
        body = json_object(response, "baidu")
        raise_for_error(body, response.status_code)
        return LoginSession(
            platform="baidu",
            appid=app_key,
            openid=required_str(body, "openid", "baidu"),
            unionid=None,
            session_key=required_str(body, "session_key", "baidu"),
            raw={k: v for k, v in body.items() if k != "session_key"},
        )

    return Call(
        platform="baidu",
        method="POST",
        url=f"{base_url.rstrip('/')}/oauth/jscode2sessionkey",
        data={"code": code, "client_id": app_key, "sk": secret},
        parse=parse,
    )

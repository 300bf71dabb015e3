"""Alipay's result codes, mapped to error kinds.

Every gateway answer carries code "10000" on success; failures add sub_code / sub_msg
(opendocs.alipay.com common error codes; alipay.system.oauth.token answers isv.code-invalid for
a code that is wrong, used, expired or issued to another app). Decrypted client payloads such as
my.getPhoneNumber spell them subCode / subMsg.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minibase.platforms.errors import ErrorKind, PlatformError

SUCCESS = "10000"

CODE_KINDS: Mapping[str, ErrorKind] = {
    "20000": "unavailable",  # service currently unavailable
}

SUB_CODE_KINDS: Mapping[str, ErrorKind] = {
    "isv.code-invalid": "invalid_code",
    "isv.invalid-app-id": "invalid_appid",
    "isv.missing-app-id": "invalid_appid",
    "isv.invalid-signature": "invalid_credentials",  # our private key is not the app's
    "isv.missing-signature-key": "invalid_credentials",  # no app public key uploaded
    "isp.unknow-error": "unavailable",
    "aop.unknow-error": "unavailable",
}


def raise_for_code(node: Mapping[str, Any], http_status: int | None = None) -> None:
    code = node.get("code")
    if code is None or str(code) == SUCCESS:
        return
    sub_code = node.get("sub_code", node.get("subCode"))
    kind = SUB_CODE_KINDS.get(str(sub_code)) or CODE_KINDS.get(str(code), "other")
    message = node.get("sub_msg", node.get("subMsg")) or node.get("msg") or "no msg"
    errcode = str(sub_code) if sub_code else str(code)
    raise PlatformError("alipay", kind, str(message), errcode=errcode, http_status=http_status)

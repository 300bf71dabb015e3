"""WeChat Pay API v3 for mini programs (api.mch.weixin.qq.com): signatures and encryption.

The calls (JSAPI prepay, query, close, refunds) build on these; see `crypto`.
"""

from minibase.platforms.wechatpay.crypto import (
    AUTH_SCHEME,
    Authorization,
    Signed,
    authorization,
    decrypt_resource,
    encrypt_resource,
    parse_authorization,
    request_payment_params,
    sign_response,
    verify_payment_params,
    verify_request,
    verify_signed,
)

__all__ = [
    "AUTH_SCHEME",
    "Authorization",
    "Signed",
    "authorization",
    "decrypt_resource",
    "encrypt_resource",
    "parse_authorization",
    "request_payment_params",
    "sign_response",
    "verify_payment_params",
    "verify_request",
    "verify_signed",
]

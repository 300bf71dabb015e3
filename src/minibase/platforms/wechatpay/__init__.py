"""WeChat Pay API v3 for mini programs (api.mch.weixin.qq.com): JSAPI prepay, query, close,
refunds and notifications (`WeChatPayClient`, `AsyncWeChatPayClient`), on the signatures and
encryption of `crypto`."""

from minibase.platforms.wechatpay.client import AsyncWeChatPayClient, WeChatPayClient
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
from minibase.platforms.wechatpay.models import Merchant, Notification, Refund, Transaction

__all__ = [
    "AUTH_SCHEME",
    "AsyncWeChatPayClient",
    "Authorization",
    "Merchant",
    "Notification",
    "Refund",
    "Signed",
    "Transaction",
    "WeChatPayClient",
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

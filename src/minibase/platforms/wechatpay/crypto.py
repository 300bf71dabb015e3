"""WeChat Pay API v3: request signatures, response and notification signatures, the
notification resource's encryption, and the signed parameters of wx.requestPayment.

- A merchant signs each request with its API private key: SHA256withRSA over
  "METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n", sent as
  `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",signature="..",
  timestamp="..",serial_no=".."`.
- WeChat Pay signs its answers and its notifications with its platform key over
  "TIMESTAMP\\nNONCE\\nBODY\\n" (headers Wechatpay-Timestamp, -Nonce, -Signature, -Serial); the
  serial names the platform certificate, or the WeChat Pay public key ("PUB_KEY_ID_...").
- A notification's `resource` is AEAD_AES_256_GCM with the merchant's APIv3 key (32 bytes),
  the resource's nonce and associated_data; the ciphertext is base64 of ciphertext + tag.
- wx.requestPayment's paySign is SHA256withRSA over "APPID\\nTIMESTAMP\\nNONCE\\nPACKAGE\\n".

(pay.weixin.qq.com, "签名生成", "签名验证", "证书和回调报文解密", "小程序调起支付".)
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from minibase.platforms import rsa
from minibase.platforms.errors import PlatformError

PLATFORM = "wechatpay"
AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
ALGORITHM = "AEAD_AES_256_GCM"
# A signed answer or notification older (or newer) than this is refused as a replay.
MAX_CLOCK_SKEW = 300
_AUTH_FIELD = re.compile(r'(\w+)="([^"]*)"')


def _text(body: str | bytes) -> str:
    if isinstance(body, bytes):
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise PlatformError(PLATFORM, "invalid_signature", "the body is not UTF-8") from None
    return body


def nonce_str() -> str:
    """32 random upper-case hex characters, as WeChat Pay's own examples use."""
    return secrets.token_hex(16).upper()


# -- requests (merchant -> WeChat Pay) ----------------------------------------------------


def request_message(method: str, path: str, timestamp: str, nonce: str, body: str) -> str:
    """What a request signature covers; `path` is the URL less its host, query included."""
    return f"{method.upper()}\n{path}\n{timestamp}\n{nonce}\n{body}\n"


def authorization(
    method: str,
    path: str,
    body: str | bytes,
    *,
    mchid: str,
    serial_no: str,
    private_key: rsa.PrivateKey,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> str:
    """The Authorization header of a merchant's request."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or nonce_str()
    message = request_message(method, path, stamp, nonce, _text(body))
    signature = rsa.sign(message, private_key, platform=PLATFORM)
    fields = (
        f'mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{stamp}",serial_no="{serial_no}"'
    )
    return f"{AUTH_SCHEME} {fields}"


@dataclass(frozen=True)
class Authorization:
    mchid: str
    serial_no: str
    nonce: str
    timestamp: str
    signature: str


def parse_authorization(header: str) -> Authorization:
    """The fields of an Authorization header (the sandbox checks merchants' requests)."""
    scheme, _, rest = header.strip().partition(" ")
    fields = dict(_AUTH_FIELD.findall(rest))
    wanted = ("mchid", "serial_no", "nonce_str", "timestamp", "signature")
    if scheme != AUTH_SCHEME or any(not fields.get(name) for name in wanted):
        raise PlatformError(PLATFORM, "invalid_signature", f"not a {AUTH_SCHEME} header")
    return Authorization(
        fields["mchid"],
        fields["serial_no"],
        fields["nonce_str"],
        fields["timestamp"],
        fields["signature"],
    )


def verify_request(
    method: str,
    path: str,
    body: str | bytes,
    header: str,
    merchant_public_key: rsa.PublicKey,
    *,
    now: float | None = None,
) -> Authorization:
    """Check a merchant's signed request; returns its fields. Raises PlatformError."""
    auth = parse_authorization(header)
    _check_fresh(auth.timestamp, now)
    message = request_message(method, path, auth.timestamp, auth.nonce, _text(body))
    if not rsa.verify(message, auth.signature, merchant_public_key, platform=PLATFORM):
        raise PlatformError(PLATFORM, "invalid_signature", "the request signature is wrong")
    return auth


# -- answers and notifications (WeChat Pay -> merchant) -----------------------------------


def response_message(timestamp: str, nonce: str, body: str) -> str:
    return f"{timestamp}\n{nonce}\n{body}\n"


@dataclass(frozen=True)
class Signed:
    """An answer's or a notification's signature headers, with the exact body they cover."""

    timestamp: str
    nonce: str
    signature: str
    serial: str
    body: str

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], body: str | bytes) -> Signed:
        lower = {key.lower(): value for key, value in headers.items()}
        timestamp, nonce, signature, serial = (
            lower.get(f"wechatpay-{name}", "")
            for name in ("timestamp", "nonce", "signature", "serial")
        )
        if not (timestamp and nonce and signature and serial):
            raise PlatformError(PLATFORM, "invalid_signature", "unsigned: Wechatpay-* missing")
        return cls(timestamp, nonce, signature, serial, _text(body))


def sign_response(
    body: str | bytes,
    private_key: rsa.PrivateKey,
    serial: str,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The Wechatpay-* headers for a body (what WeChat Pay, or the sandbox, sends)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or nonce_str()
    message = response_message(stamp, nonce, _text(body))
    return {
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": rsa.sign(message, private_key, platform=PLATFORM),
        "Wechatpay-Serial": serial,
        "Wechatpay-Signature-Type": AUTH_SCHEME,
    }


def verify_signed(
    signed: Signed,
    public_keys: Mapping[str, rsa.PublicKey],
    *,
    now: float | None = None,
    max_skew: int = MAX_CLOCK_SKEW,
) -> None:
    """Check an answer or a notification against the platform keys (serial -> certificate
    or public key). Raises PlatformError: invalid_signature (unknown serial, wrong
    signature), expired_data (timestamp outside the window: a replay or a wrong clock)."""
    key = public_keys.get(signed.serial)
    if key is None:
        raise PlatformError(
            PLATFORM, "invalid_signature", f"no platform key with serial {signed.serial!r}"
        )
    _check_fresh(signed.timestamp, now, max_skew)
    message = response_message(signed.timestamp, signed.nonce, signed.body)
    if not rsa.verify(message, signed.signature, key, platform=PLATFORM):
        raise PlatformError(PLATFORM, "invalid_signature", "the signature does not verify")


def _check_fresh(timestamp: str, now: float | None, max_skew: int = MAX_CLOCK_SKEW) -> None:
    if not timestamp.isdigit():
        raise PlatformError(PLATFORM, "invalid_signature", "the timestamp is not a number")
    moment = time.time() if now is None else now
    if abs(moment - int(timestamp)) > max_skew:
        raise PlatformError(
            PLATFORM, "expired_data", f"the timestamp is more than {max_skew} s away from now"
        )


# -- the notification resource -------------------------------------------------------------


def _aes(api_v3_key: str) -> AESGCM:
    key = api_v3_key.encode("utf-8")
    if len(key) != 32:
        raise PlatformError(PLATFORM, "invalid_credentials", "the APIv3 key is 32 characters")
    return AESGCM(key)


def decrypt_resource(resource: Mapping[str, Any], api_v3_key: str) -> bytes:
    """The plaintext of a notification's (or a certificate's) `resource` object."""
    if resource.get("algorithm") != ALGORITHM:
        raise PlatformError(PLATFORM, "decrypt_failed", f"not {ALGORITHM}")
    nonce, ciphertext = resource.get("nonce"), resource.get("ciphertext")
    associated = resource.get("associated_data") or ""
    if not isinstance(nonce, str) or not isinstance(ciphertext, str):
        raise PlatformError(PLATFORM, "decrypt_failed", "the resource lacks nonce or ciphertext")
    try:
        raw = base64.b64decode(ciphertext, validate=True)
        return _aes(api_v3_key).decrypt(nonce.encode("utf-8"), raw, str(associated).encode("utf-8"))
    except (InvalidTag, binascii.Error, ValueError):
        raise PlatformError(PLATFORM, "decrypt_failed", "the resource does not decrypt") from None


def encrypt_resource(
    plaintext: bytes,
    api_v3_key: str,
    *,
    associated_data: str = "",
    original_type: str = "transaction",
    nonce: str | None = None,
) -> dict[str, str]:
    """A `resource` object as WeChat Pay (or the sandbox) sends it."""
    nonce = nonce or secrets.token_hex(6)  # 12 characters: GCM's 96-bit nonce
    sealed = _aes(api_v3_key).encrypt(
        nonce.encode("utf-8"), plaintext, associated_data.encode("utf-8")
    )
    return {
        "original_type": original_type,
        "algorithm": ALGORITHM,
        "ciphertext": base64.b64encode(sealed).decode("ascii"),
        "associated_data": associated_data,
        "nonce": nonce,
    }


# -- wx.requestPayment -----------------------------------------------------------------------


def payment_message(appid: str, timestamp: str, nonce: str, package: str) -> str:
    return f"{appid}\n{timestamp}\n{nonce}\n{package}\n"


def request_payment_params(
    appid: str,
    prepay_id: str,
    private_key: rsa.PrivateKey,
    *,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """What the mini program passes to wx.requestPayment (signType is not signed)."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or nonce_str()
    package = f"prepay_id={prepay_id}"
    message = payment_message(appid, stamp, nonce, package)
    return {
        "timeStamp": stamp,
        "nonceStr": nonce,
        "package": package,
        "signType": "RSA",
        "paySign": rsa.sign(message, private_key, platform=PLATFORM),
    }


def verify_payment_params(
    appid: str, params: Mapping[str, str], merchant_public_key: rsa.PublicKey
) -> bool:
    """Does paySign cover these parameters for this app (the sandbox's "pay" step checks)."""
    message = payment_message(
        appid, params.get("timeStamp", ""), params.get("nonceStr", ""), params.get("package", "")
    )
    signature = params.get("paySign", "")
    return rsa.verify(message, signature, merchant_public_key, platform=PLATFORM)

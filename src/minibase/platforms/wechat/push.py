"""WeChat message push (消息推送): the signatures, the EncodingAESKey encryption and the XML and
JSON bodies of what WeChat posts to a mini program's server, and of the replies.

- `signature`: sha1 hex of token, timestamp and nonce, sorted and joined; it signs every
  request (the GET verification with its `echostr` too).
- `msg_signature`: the same over token, timestamp, nonce and the `Encrypt` text (safe and
  compatible modes).
- `Encrypt`: base64 of AES-256-CBC with key = base64(EncodingAESKey + "="), iv = key[:16],
  PKCS#7 padding to 32 bytes, over 16 random bytes, the message's length (4 bytes,
  big-endian), the message and the appid.

Every refusal is a PushError whose `reason` says which check failed.

    push = PushCrypto(token, encoding_aes_key, appid)
    message = push.open(query, body)  # -> OpenedPush(fields, format, encrypted)
    reply = push.seal_reply({"MsgType": "transfer_customer_service", ...}, message.format)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from xml.etree import ElementTree

from minibase.platforms.cipher import cbc_decrypt, cbc_encrypt
from minibase.platforms.compare import same_text
from minibase.platforms.errors import ErrorKind, PlatformError

Format = Literal["xml", "json"]
Mode = Literal["plaintext", "compatible", "safe"]
Reason = Literal["signature", "msg_signature", "aes_key", "decrypt", "appid", "body"]
MODES: tuple[Mode, ...] = ("plaintext", "compatible", "safe")
FORMATS: tuple[Format, ...] = ("xml", "json")
ENCODING_AES_KEY_LENGTH = 43
PAD_TO = 32  # the scheme pads to 32 bytes, though AES blocks are 16
_RANDOM_BYTES = 16


_KINDS: dict[str, ErrorKind] = {
    "signature": "invalid_signature",
    "msg_signature": "invalid_signature",
    "appid": "watermark_mismatch",
    "body": "bad_response",
}


class PushError(PlatformError):
    """A push (or a reply) that does not check out; `reason` names the check."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__("wechat", _KINDS.get(reason, "decrypt_failed"), message)
        self.reason: Reason = reason


def _sha1_sorted(*parts: str) -> str:
    # sha1 is the platform's choice for this signature, not ours.
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()  # noqa: S324


def signature(token: str, timestamp: str, nonce: str) -> str:
    """The `signature` query parameter of every push and of the URL verification."""
    return _sha1_sorted(token, timestamp, nonce)


def msg_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """The `msg_signature` of an encrypted push, and the `MsgSignature` of an encrypted reply."""
    return _sha1_sorted(token, timestamp, nonce, encrypt)


def verify_signature(token: str, timestamp: str, nonce: str, given: str) -> bool:
    return same_text(signature(token, timestamp, nonce), given)


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key an EncodingAESKey (43 characters of base64) stands for."""
    if len(encoding_aes_key) != ENCODING_AES_KEY_LENGTH:
        raise PushError("aes_key", "an EncodingAESKey is 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        raise PushError("aes_key", "an EncodingAESKey is base64 (A-Z, a-z, 0-9)") from None
    if len(key) != 32:
        raise PushError("aes_key", "an EncodingAESKey stands for 32 bytes")
    return key


def new_encoding_aes_key() -> str:
    """A fresh EncodingAESKey, as the mini program console generates one."""
    return base64.b64encode(os.urandom(32)).decode("ascii")[:ENCODING_AES_KEY_LENGTH]


def encrypt(
    encoding_aes_key: str, appid: str, message: bytes, *, random_bytes: bytes | None = None
) -> str:
    """The `Encrypt` text of a message for `appid`."""
    key = aes_key(encoding_aes_key)
    prefix = os.urandom(_RANDOM_BYTES) if random_bytes is None else random_bytes
    if len(prefix) != _RANDOM_BYTES:
        raise ValueError("the random prefix is 16 bytes")
    plaintext = prefix + struct.pack(">I", len(message)) + message + appid.encode("utf-8")
    return base64.b64encode(cbc_encrypt(key, key[:16], plaintext, pad_to=PAD_TO)).decode()


def decrypt(encoding_aes_key: str, appid: str, encrypted: str) -> bytes:
    """The message inside `Encrypt`; refused when it was made for another appid."""
    key = aes_key(encoding_aes_key)
    try:
        ciphertext = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise PushError("decrypt", "Encrypt is not base64") from None
    try:
        plaintext = cbc_decrypt(key, key[:16], ciphertext, platform="wechat", pad_to=PAD_TO)
    except PlatformError as exc:
        raise PushError("decrypt", exc.message) from None
    if len(plaintext) < _RANDOM_BYTES + 4:
        raise PushError("decrypt", "the plaintext is too short")
    (length,) = struct.unpack(">I", plaintext[_RANDOM_BYTES : _RANDOM_BYTES + 4])
    start = _RANDOM_BYTES + 4
    if start + length > len(plaintext):
        raise PushError("decrypt", "the message length passes the plaintext")
    if not hmac.compare_digest(plaintext[start + length :], appid.encode("utf-8")):
        raise PushError("appid", "the message was encrypted for another app")
    return plaintext[start : start + length]


# -- bodies ----------------------------------------------------------------------------------


def body_format(body: bytes) -> Format:
    """XML bodies start with `<`; everything else is read as JSON."""
    return "xml" if body.lstrip()[:1] == b"<" else "json"


def parse_body(body: bytes, format: Format | None = None) -> dict[str, Any]:
    """The fields of an XML (`<xml><Field>...</Field></xml>`) or JSON body. XML values are text,
    nested elements are objects and repeated ones lists."""
    chosen = format or body_format(body)
    if chosen == "json":
        try:
            found = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            raise PushError("body", "the body is not JSON") from None
        if not isinstance(found, dict):
            raise PushError("body", "the body is not a JSON object")
        return found
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise PushError("body", "XML with a DOCTYPE or entities is refused")
    try:
        root = ElementTree.fromstring(body)  # noqa: S314 (DOCTYPEs refused above)
    except ElementTree.ParseError:
        raise PushError("body", "the body is not XML") from None
    fields = _element(root)
    return fields if isinstance(fields, dict) else {}


def _element(element: ElementTree.Element) -> Any:
    children = list(element)
    if not children:
        return element.text or ""
    fields: dict[str, Any] = {}
    for child in children:
        value = _element(child)
        if child.tag in fields:
            known = fields[child.tag]
            fields[child.tag] = [*known, value] if isinstance(known, list) else [known, value]
        else:
            fields[child.tag] = value
    return fields


def render_body(fields: Mapping[str, Any], format: Format) -> bytes:
    """An XML or JSON body of `fields` (numbers bare, text in CDATA)."""
    if format == "json":
        return json.dumps(dict(fields), ensure_ascii=False, separators=(",", ":")).encode()
    return f"<xml>{_xml_fields(fields)}</xml>".encode()


def _xml_fields(fields: Mapping[str, Any]) -> str:
    parts = []
    for name, value in fields.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            parts.append(f"<{name}>{_xml_value(item)}</{name}>")
    return "".join(parts)


def _xml_value(value: Any) -> str:
    if isinstance(value, Mapping):
        return _xml_fields(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    text = str(value).replace("]]>", "]]]]><![CDATA[>")
    return f"<![CDATA[{text}]]>"


# -- one app's pushes ------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenedPush:
    """A push that checked out: its fields (decrypted when it came encrypted)."""

    fields: dict[str, Any]
    format: Format
    encrypted: bool


class PushCrypto:
    """One app's push keys: opens what WeChat posts, seals replies (and, for sandboxes and
    tests, pushes)."""

    def __init__(self, token: str, encoding_aes_key: str | None, appid: str) -> None:
        self.token = token
        self.encoding_aes_key = encoding_aes_key
        self.appid = appid
        if encoding_aes_key is not None:
            aes_key(encoding_aes_key)  # refused now rather than at the first push

    def __repr__(self) -> str:
        return f"PushCrypto(appid={self.appid!r})"

    def verify_url(self, query: Mapping[str, str]) -> str:
        """The GET verification: the `echostr` to answer when the signature checks out."""
        self._check_signature(query)
        return query.get("echostr", "")

    def _check_signature(self, query: Mapping[str, str]) -> None:
        given = query.get("signature", "")
        if not verify_signature(
            self.token, query.get("timestamp", ""), query.get("nonce", ""), given
        ):
            raise PushError("signature", "the signature does not match the token")

    def open(self, query: Mapping[str, str], body: bytes) -> OpenedPush:
        """Check a POSTed push and read it. Plaintext pushes carry `signature`; encrypted ones
        (safe mode, or compatible mode's Encrypt beside the plaintext) `msg_signature` too, and
        then only the decrypted fields are believed."""
        self._check_signature(query)
        format = body_format(body)
        outer = parse_body(body, format)
        encrypted = outer.get("Encrypt")
        if encrypted is None:
            return OpenedPush(outer, format, False)
        if self.encoding_aes_key is None:
            raise PushError("aes_key", "an encrypted push came, and no EncodingAESKey is set")
        expected = msg_signature(
            self.token, query.get("timestamp", ""), query.get("nonce", ""), str(encrypted)
        )
        if not same_text(expected, query.get("msg_signature", "")):
            raise PushError("msg_signature", "msg_signature does not match the token and Encrypt")
        inner = decrypt(self.encoding_aes_key, self.appid, str(encrypted))
        return OpenedPush(parse_body(inner, body_format(inner)), format, True)

    def seal_reply(
        self,
        fields: Mapping[str, Any],
        format: Format,
        *,
        encrypted: bool = True,
        timestamp: int | None = None,
        nonce: str | None = None,
    ) -> bytes:
        """A reply body: the fields themselves, or {Encrypt, MsgSignature, TimeStamp, Nonce}."""
        plain = render_body(fields, format)
        if not encrypted:
            return plain
        envelope = self._envelope(plain, timestamp, nonce)
        return render_body(
            {
                "Encrypt": envelope["Encrypt"],
                "MsgSignature": envelope["msg_signature"],
                "TimeStamp": int(envelope["timestamp"]),
                "Nonce": envelope["nonce"],
            },
            format,
        )

    def open_reply(self, body: bytes) -> dict[str, Any]:
        """What a reply says (the platform's side of seal_reply): checks MsgSignature."""
        outer = parse_body(body)
        if "Encrypt" not in outer:
            return outer
        expected = msg_signature(
            self.token,
            str(outer.get("TimeStamp", "")),
            str(outer.get("Nonce", "")),
            str(outer["Encrypt"]),
        )
        if not same_text(expected, str(outer.get("MsgSignature", ""))):
            raise PushError("msg_signature", "MsgSignature does not match the token and Encrypt")
        if self.encoding_aes_key is None:
            raise PushError("aes_key", "an encrypted reply came, and no EncodingAESKey is set")
        return parse_body(decrypt(self.encoding_aes_key, self.appid, str(outer["Encrypt"])))

    def seal_push(
        self,
        fields: Mapping[str, Any],
        format: Format,
        mode: Mode,
        *,
        timestamp: int | None = None,
        nonce: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """What WeChat sends: the query parameters and the body of a push in `mode`."""
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        once = nonce or str(int.from_bytes(os.urandom(4), "big"))
        query = {
            "signature": signature(self.token, stamp, once),
            "timestamp": stamp,
            "nonce": once,
        }
        if mode == "plaintext":
            return query, render_body(fields, format)
        envelope = self._envelope(render_body(fields, format), int(stamp), once)
        query.update(encrypt_type="aes", msg_signature=envelope["msg_signature"])
        outer: dict[str, Any] = {"ToUserName": fields.get("ToUserName", "")}
        if mode == "compatible":
            outer = dict(fields)
        outer["Encrypt"] = envelope["Encrypt"]
        return query, render_body(outer, format)

    def _envelope(self, plain: bytes, timestamp: int | None, nonce: str | None) -> dict[str, str]:
        if self.encoding_aes_key is None:
            raise PushError("aes_key", "encrypting needs the EncodingAESKey")
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        once = nonce or str(int.from_bytes(os.urandom(4), "big"))
        sealed = encrypt(self.encoding_aes_key, self.appid, plain)
        return {
            "Encrypt": sealed,
            "msg_signature": msg_signature(self.token, stamp, once, sealed),
            "timestamp": stamp,
            "nonce": once,
        }

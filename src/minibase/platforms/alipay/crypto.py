"""Alipay's signatures (RSA2) and content encryption (AES-CBC), both directions.

Signing: SHA256withRSA, PKCS#1 v1.5, base64. Request parameters are signed as the sorted
"k=v&k=v" of the non-empty ones, sign left out (Alipay's SDKs' getSignContent). Asynchronous
notifications are checked over every parameter but sign and sign_type, empty values included
(the SDKs' getSignCheckContentV1, as rsaCheckV1 verifies notifications). A synchronous
answer's sign covers the exact JSON text of its response node.
Content encryption: AES-CBC with a zero iv and PKCS#5 padding, key and text in base64
(alipay-sdk-python-all EncryptUtils; opendocs.alipay.com "接口内容加密方式").
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from minibase.platforms import rsa as shared_rsa
from minibase.platforms.alipay.codes import raise_for_code
from minibase.platforms.cipher import b64decode, b64encode, cbc_decrypt, cbc_encrypt
from minibase.platforms.errors import PlatformError
from minibase.platforms.models import PhoneNumber

PrivateKey = shared_rsa.PrivateKey
PublicKey = shared_rsa.PublicKey

ZERO_IV = bytes(16)
_MAINLAND_MOBILE = re.compile(r"1\d{10}")


def load_private_key(key: PrivateKey) -> rsa.RSAPrivateKey:
    """A PEM (PKCS#8 or PKCS#1) or the bare base64 body the Alipay console hands out."""
    return shared_rsa.load_private_key(key, platform="alipay")


def load_public_key(key: PublicKey) -> rsa.RSAPublicKey:
    return shared_rsa.load_public_key(key, platform="alipay")


def signing_string(params: Mapping[str, str], *, notification: bool = False) -> str:
    if notification:  # every parameter the notification carries, "passback_params=" too
        kept = {key: value for key, value in params.items() if key not in ("sign", "sign_type")}
    else:
        kept = {key: value for key, value in params.items() if key != "sign" and value}
    return "&".join(f"{key}={value}" for key, value in sorted(kept.items()))


def sign_content(content: str, private_key: PrivateKey) -> str:
    return shared_rsa.sign(content, private_key, platform="alipay")


def verify_content(content: str, sign: str, public_key: PublicKey) -> bool:
    return shared_rsa.verify(content, sign, public_key, platform="alipay")


def sign_params(
    params: Mapping[str, str], private_key: PrivateKey, *, notification: bool = False
) -> str:
    return sign_content(signing_string(params, notification=notification), private_key)


def verify_params(
    params: Mapping[str, str], sign: str, public_key: PublicKey, *, notification: bool = False
) -> bool:
    """Check a request's or (notification=True) an asynchronous notification's signature."""
    return verify_content(signing_string(params, notification=notification), sign, public_key)


def response_node_name(method: str) -> str:
    return method.replace(".", "_") + "_response"


def find_response_node(raw_json_text: str, method: str) -> tuple[str, str]:
    """(node name, exact text) of the method's response node, else of error_response."""
    wanted = (response_node_name(method), "error_response")
    nodes = _top_level_texts(raw_json_text)
    for name in wanted:
        if name in nodes:
            return name, nodes[name]
    raise PlatformError("alipay", "bad_response", f"the answer has no {wanted[0]}")


def response_node_text(raw_json_text: str, method: str) -> str:
    """The exact substring of an answer that its `sign` covers."""
    return find_response_node(raw_json_text, method)[1]


def _top_level_texts(text: str) -> dict[str, str]:
    """Each top-level member of a JSON object, as the exact text it was written with."""
    decoder = json.JSONDecoder()
    members: dict[str, str] = {}
    try:
        at = _skip_space(text, 0)
        if text[at] != "{":
            raise ValueError("not an object")
        at = _skip_space(text, at + 1)
        while text[at] != "}":
            name, at = decoder.raw_decode(text, at)
            at = _skip_space(text, at)
            if text[at] != ":" or not isinstance(name, str):
                raise ValueError("not a member")
            start = _skip_space(text, at + 1)
            _, at = decoder.raw_decode(text, start)
            members[name] = text[start:at]
            at = _skip_space(text, at)
            if text[at] == ",":
                at = _skip_space(text, at + 1)
            elif text[at] != "}":
                raise ValueError("members must be separated by commas")
    except (ValueError, IndexError) as error:
        raise PlatformError("alipay", "bad_response", "the answer is not a JSON object") from error
    return members


def _skip_space(text: str, at: int) -> int:
    while text[at] in " \t\r\n":
        at += 1
    return at


def build_signed_response(
    method: str, node: Mapping[str, Any], private_key: PrivateKey, *, error: bool = False
) -> str:
    """A gateway answer as Alipay writes it, for sandboxes and tests."""
    name = "error_response" if error else response_node_name(method)
    node_text = json.dumps(dict(node), ensure_ascii=False, separators=(",", ":"))
    sign = sign_content(node_text, private_key)
    return f'{{"{name}":{node_text},"sign":"{sign}"}}'


def _aes_key(aes_key_b64: str) -> bytes:
    key = b64decode(aes_key_b64, platform="alipay", what="AES key")
    if len(key) not in (16, 24, 32):
        raise PlatformError("alipay", "decrypt_failed", "the AES key is not 16, 24 or 32 bytes")
    return key


def encrypt_content(plaintext: str, aes_key_b64: str) -> str:
    key = base64.b64decode(aes_key_b64, validate=True)
    if len(key) not in (16, 24, 32):
        raise ValueError("an AES key is 16, 24 or 32 bytes, base64-encoded")
    return b64encode(cbc_encrypt(key, ZERO_IV, plaintext.encode("utf-8")))


def decrypt_content(ciphertext_b64: str, aes_key_b64: str) -> str:
    ciphertext = b64decode(ciphertext_b64, platform="alipay", what="encrypted content")
    plaintext = cbc_decrypt(_aes_key(aes_key_b64), ZERO_IV, ciphertext, platform="alipay")
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError as error:
        raise PlatformError("alipay", "decrypt_failed", "the plaintext is not UTF-8") from error


def decrypt_phone_number(
    response: str, sign: str, aes_key_b64: str, alipay_public_key_pem: PublicKey
) -> PhoneNumber:
    """Check and open the {response, sign} that my.getPhoneNumber gives the mini program.

    Encrypted content is signed with double quotes around it (Alipay's server-side sample);
    plain JSON content is signed as it is.
    """
    encrypted = not response.startswith("{")
    signed = f'"{response}"' if encrypted else response
    if not verify_content(signed, sign, alipay_public_key_pem):
        raise PlatformError("alipay", "invalid_signature", "the phone number's sign is wrong")
    text = decrypt_content(response, aes_key_b64) if encrypted else response
    try:
        body = json.loads(text)
    except ValueError as error:
        raise PlatformError("alipay", "decrypt_failed", "the plaintext is not JSON") from error
    if not isinstance(body, dict):
        raise PlatformError("alipay", "decrypt_failed", "the plaintext is not a JSON object")
    raise_for_code(body)
    mobile = body.get("mobile")
    if not isinstance(mobile, str) or not mobile:
        raise PlatformError("alipay", "bad_response", "the answer has no mobile")
    # Alipay gives the bare number; only a mainland mobile's country is certain.
    country = "86" if _MAINLAND_MOBILE.fullmatch(mobile) else ""
    return PhoneNumber(phone_number=mobile, pure_phone_number=mobile, country_code=country)


def encrypt_phone_number(
    mobile: str, aes_key_b64: str, alipay_private_key: PrivateKey
) -> tuple[str, str]:
    """The inverse, as Alipay would produce it: (response, sign). For sandboxes and tests."""
    plaintext = json.dumps({"code": "10000", "msg": "Success", "mobile": mobile})
    response = encrypt_content(plaintext, aes_key_b64)
    return response, sign_content(f'"{response}"', alipay_private_key)


def generate_rsa_keypair() -> tuple[str, str]:
    """(private key PEM in PKCS#8, public key PEM): a 2048-bit pair for sandboxes and tests."""
    return shared_rsa.generate_keypair()

"""AES-CBC with PKCS#7 padding over base64 text: the one cipher every platform uses for user data.

The padding block is a parameter because Baidu pads to 32 bytes while AES blocks are 16.
Every failure is a PlatformError(kind="decrypt_failed") naming the platform.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from minibase.platforms.errors import PlatformError

AES_BLOCK = 16


def b64decode(value: str, *, platform: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError) as error:
        raise PlatformError(platform, "decrypt_failed", f"the {what} is not base64") from error


def b64encode(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def cbc_encrypt(key: bytes, iv: bytes, plaintext: bytes, *, pad_to: int = AES_BLOCK) -> bytes:
    padding = pad_to - len(plaintext) % pad_to
    padded = plaintext + bytes([padding]) * padding
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return encryptor.update(padded) + encryptor.finalize()


def cbc_decrypt(
    key: bytes, iv: bytes, ciphertext: bytes, *, platform: str, pad_to: int = AES_BLOCK
) -> bytes:
    if len(key) not in (16, 24, 32):
        raise PlatformError(platform, "decrypt_failed", f"a {len(key)}-byte key is not an AES key")
    if len(iv) != AES_BLOCK:
        raise PlatformError(platform, "decrypt_failed", f"the iv has {len(iv)} bytes, not 16")
    if not ciphertext or len(ciphertext) % AES_BLOCK:
        raise PlatformError(platform, "decrypt_failed", "the ciphertext is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    padding = padded[-1]
    # A wrong key or iv almost always leaves bytes that are not valid padding.
    if not 1 <= padding <= pad_to or padded[-padding:] != bytes([padding]) * padding:
        raise PlatformError(platform, "decrypt_failed", "bad padding: wrong key or iv")
    return padded[:-padding]

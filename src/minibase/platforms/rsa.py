"""RSA as the platforms use it: SHA256withRSA (PKCS#1 v1.5) signatures in base64, keys as PEM
(PKCS#8, PKCS#1, SubjectPublicKeyInfo, or an X.509 certificate for public keys) or the bare
base64 DER body consoles hand out. Alipay's RSA2 and WeChat Pay v3 both sign this way."""

from __future__ import annotations

import base64
import binascii
import functools

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from minibase.platforms.cipher import b64encode
from minibase.platforms.errors import PlatformError

PrivateKey = str | rsa.RSAPrivateKey
PublicKey = str | rsa.RSAPublicKey


def load_private_key(key: PrivateKey, *, platform: str) -> rsa.RSAPrivateKey:
    """Loading checks the key and takes ~45 ms, so a text key is loaded once per process."""
    if isinstance(key, rsa.RSAPrivateKey):
        return key
    return _load_private_text(key, platform)


@functools.lru_cache(maxsize=64)
def _load_private_text(key: str, platform: str) -> rsa.RSAPrivateKey:
    try:
        if "-----BEGIN" in key:
            loaded = serialization.load_pem_private_key(key.encode("ascii"), password=None)
        else:
            loaded = serialization.load_der_private_key(base64.b64decode(key), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm, binascii.Error) as error:
        raise PlatformError(platform, "invalid_credentials", "unreadable private key") from error
    if not isinstance(loaded, rsa.RSAPrivateKey):
        raise PlatformError(platform, "invalid_credentials", "the private key is not RSA")
    return loaded


def load_public_key(key: PublicKey, *, platform: str) -> rsa.RSAPublicKey:
    """A public key, or the public key of a PEM certificate (WeChat Pay's platform certs);
    a text key is parsed once per process (every notification is checked with one)."""
    if isinstance(key, rsa.RSAPublicKey):
        return key
    return _load_public_text(key, platform)


@functools.lru_cache(maxsize=256)
def _load_public_text(key: str, platform: str) -> rsa.RSAPublicKey:
    loaded: object
    try:
        if "-----BEGIN CERTIFICATE" in key:
            loaded = x509.load_pem_x509_certificate(key.encode("ascii")).public_key()
        elif "-----BEGIN" in key:
            loaded = serialization.load_pem_public_key(key.encode("ascii"))
        else:
            loaded = serialization.load_der_public_key(base64.b64decode(key))
    except (ValueError, TypeError, UnsupportedAlgorithm, binascii.Error) as error:
        raise PlatformError(platform, "invalid_credentials", "unreadable public key") from error
    if not isinstance(loaded, rsa.RSAPublicKey):
        raise PlatformError(platform, "invalid_credentials", "the public key is not RSA")
    return loaded


def sign(message: str, private_key: PrivateKey, *, platform: str) -> str:
    key = load_private_key(private_key, platform=platform)
    return b64encode(key.sign(message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256()))


def verify(message: str, signature: str, public_key: PublicKey, *, platform: str) -> bool:
    key = load_public_key(public_key, platform=platform)
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, message.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def generate_keypair() -> tuple[str, str]:
    """(private key PEM in PKCS#8, public key PEM): a 2048-bit pair for sandboxes and tests."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem.decode("ascii"), public_pem.decode("ascii")

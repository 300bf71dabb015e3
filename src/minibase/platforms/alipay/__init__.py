"""Alipay mini programs: signed gateway login, RSA2 signatures, AES content, phone numbers."""

from minibase.platforms.alipay.client import AlipayClient, AsyncAlipayClient
from minibase.platforms.alipay.crypto import (
    build_signed_response,
    decrypt_content,
    decrypt_phone_number,
    encrypt_content,
    encrypt_phone_number,
    generate_rsa_keypair,
    response_node_text,
    sign_content,
    sign_params,
    verify_content,
    verify_params,
)

__all__ = [
    "AlipayClient",
    "AsyncAlipayClient",
    "build_signed_response",
    "decrypt_content",
    "decrypt_phone_number",
    "encrypt_content",
    "encrypt_phone_number",
    "generate_rsa_keypair",
    "response_node_text",
    "sign_content",
    "sign_params",
    "verify_content",
    "verify_params",
]

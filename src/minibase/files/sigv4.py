"""AWS Signature Version 4: how S3-compatible storage knows a request is ours.

Two forms built from one canonical request, and a third that signs a document:

- `authorization(...)` gives the `Authorization` header of a request the server sends itself;
- `presign(...)` gives the query parameters of a URL anyone holding it may use until it expires
  (downloads and direct uploads that bypass the app servers);
- `sign(...)` signs the base64 POST policy of a form upload (`S3Storage.presigned_post`).

The caller chooses the headers to sign and passes the path unencoded; the canonical request
encodes each path segment once, as S3 wants (no double encoding, no dot-segment folding), so the
URL actually sent must be built with `encode_path`. Checked against AWS's published examples in
tests/files/test_sigv4.py.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_PAYLOAD = hashlib.sha256(b"").hexdigest()
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # what S3 accepts for X-Amz-Expires

_UNRESERVED = "-._~"  # with letters and digits, the only characters SigV4 leaves unencoded


@dataclass(frozen=True)
class Credentials:
    """An access key, its secret (kept out of reprs) and the scope it signs for."""

    access_key: str
    secret_key: str = field(repr=False)
    region: str
    service: str = "s3"


def amz_date(moment: datetime) -> str:
    """`20130524T000000Z`: the UTC timestamp SigV4 signs."""
    if moment.tzinfo is None:
        raise ValueError("a signing time needs a timezone")
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def encode(text: str) -> str:
    """Percent-encode every byte but A-Z a-z 0-9 - . _ ~ (so `/` too)."""
    return quote(text, safe=_UNRESERVED)


def encode_path(path: str) -> str:
    """Percent-encode each segment of a path, keeping the slashes between them."""
    return "/".join(encode(segment) for segment in path.split("/"))


def canonical_query(query: Sequence[tuple[str, str]]) -> str:
    pairs = sorted((encode(name), encode(value)) for name, value in query)
    return "&".join(f"{name}={value}" for name, value in pairs)


def canonical_request(
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    payload_hash: str,
) -> tuple[str, str]:
    """The canonical request and its signed-headers list (`host;x-amz-date`)."""
    merged: dict[str, list[str]] = {}
    for name, value in headers.items():
        merged.setdefault(name.strip().lower(), []).append(" ".join(value.split()))
    names = sorted(merged)
    lines = "".join(f"{name}:{','.join(merged[name])}\n" for name in names)
    signed = ";".join(names)
    text = "\n".join(
        [method.upper(), encode_path(path), canonical_query(query), lines, signed, payload_hash]
    )
    return text, signed


def credential_scope(date: str, credentials: Credentials) -> str:
    return f"{date[:8]}/{credentials.region}/{credentials.service}/aws4_request"


def string_to_sign(date: str, scope: str, request: str) -> str:
    digest = hashlib.sha256(request.encode()).hexdigest()
    return f"{ALGORITHM}\n{date}\n{scope}\n{digest}"


def signing_key(secret_key: str, day: str, region: str, service: str) -> bytes:
    """kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service), "aws4_request")."""
    key = ("AWS4" + secret_key).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def signature(credentials: Credentials, date: str, request: str) -> str:
    text = string_to_sign(date, credential_scope(date, credentials), request)
    return sign(credentials, date, text)


def sign(credentials: Credentials, date: str, text: str) -> str:
    """The hex HMAC of `text` under the day's signing key: a canonical request's string to sign,
    or a browser upload's base64 POST policy (which is its own string to sign)."""
    key = signing_key(credentials.secret_key, date[:8], credentials.region, credentials.service)
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def authorization(
    credentials: Credentials,
    method: str,
    path: str,
    query: Sequence[tuple[str, str]],
    headers: Mapping[str, str],
    payload_hash: str,
) -> str:
    """The Authorization header for a request whose headers (host and x-amz-date among them,
    exactly as sent) are all signed."""
    date = _header(headers, "x-amz-date")
    request, signed = canonical_request(method, path, query, headers, payload_hash)
    scope = credential_scope(date, credentials)
    return (
        f"{ALGORITHM} Credential={credentials.access_key}/{scope}, SignedHeaders={signed},"
        f" Signature={signature(credentials, date, request)}"
    )


def presign(
    credentials: Credentials,
    method: str,
    path: str,
    *,
    host: str,
    date: str,
    expires: int,
    headers: Mapping[str, str] | None = None,
    query: Sequence[tuple[str, str]] = (),
) -> list[tuple[str, str]]:
    """The query of a presigned URL: `query`, the X-Amz-* parameters and the signature.

    `headers` besides host are signed too, so the URL's user must send them unchanged
    (a presigned upload's content-type)."""
    check_expires(expires)
    signed_headers = {"host": host, **{k.lower(): v for k, v in (headers or {}).items()}}
    params = [
        *query,
        ("X-Amz-Algorithm", ALGORITHM),
        ("X-Amz-Credential", f"{credentials.access_key}/{credential_scope(date, credentials)}"),
        ("X-Amz-Date", date),
        ("X-Amz-Expires", str(expires)),
        ("X-Amz-SignedHeaders", ";".join(sorted(signed_headers))),
    ]
    request, _ = canonical_request(method, path, params, signed_headers, UNSIGNED_PAYLOAD)
    return [*params, ("X-Amz-Signature", signature(credentials, date, request))]


def check_expires(expires: int) -> None:
    """A presigned URL or form lasts 1 second to 7 days (S3 refuses longer)."""
    if not 1 <= expires <= MAX_PRESIGN_SECONDS:
        raise ValueError(f"expires must be 1..{MAX_PRESIGN_SECONDS} seconds, not {expires}")


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    raise ValueError(f"the signed headers need {name}")

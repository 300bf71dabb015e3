"""Temporary download links, as CloudBase's getTempFileURL gives them: an object's path with
`?expires=<unix seconds>&sig=<HMAC>`. The server signs when it issues a link (after the read
rule of the record that holds the file let the caller see it) and checks on download, so a
download needs no token and no database read, and a link cannot be stretched or moved to
another object.

    signer = UrlSigner(vault.derive("minibase/file-links/v1"), clock, max_seconds=86400)
    query = signer.sign("posts/01k.../01k...", seconds=600)      # "expires=...&sig=..."
    signer.check("posts/01k.../01k...", expires, sig)              # or ApiError 403
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from minibase.clock import Clock
from minibase.errors import ApiError


class UrlSigner:
    def __init__(self, key: bytes, clock: Clock, *, max_seconds: int) -> None:
        if len(key) < 32:
            raise ValueError("a link key needs 32 bytes")
        self._key = key
        self._clock = clock
        self.max_seconds = max_seconds

    def sign(self, object_key: str, seconds: int) -> str:
        """The query that makes `object_key` downloadable for `seconds` from now."""
        if not 1 <= seconds <= self.max_seconds:
            raise ApiError(
                "files.invalid_expiry",
                400,
                f"a link lasts 1 to {self.max_seconds} seconds, not {seconds}",
            )
        expires = int(self._clock.timestamp()) + seconds
        return f"expires={expires}&sig={self._signature(object_key, expires)}"

    def check(self, object_key: str, expires: str | None, sig: str | None) -> None:
        """Raise unless `expires` and `sig` are a link this server made for this object and
        it has not expired."""
        if not expires or not sig or not expires.isdigit() or len(expires) > 12:
            raise ApiError("files.invalid_link", 403, "the link is not signed")
        if not hmac.compare_digest(sig, self._signature(object_key, int(expires))):
            raise ApiError("files.invalid_link", 403, "the link's signature does not match")
        if int(expires) <= self._clock.timestamp():
            raise ApiError("files.link_expired", 403, "the link has expired; ask for a new one")

    def _signature(self, object_key: str, expires: int) -> str:
        message = f"minibase-file-link\n{object_key}\n{expires}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

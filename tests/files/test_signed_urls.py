"""Temporary links: made for one object, for a bounded time, and refused when changed."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from minibase.clock import FrozenClock
from minibase.errors import ApiError
from minibase.files.signed_urls import UrlSigner

KEY = b"k" * 32


def _link(signer: UrlSigner, object_key: str, seconds: int) -> tuple[str, str]:
    query = parse_qs(signer.sign(object_key, seconds))
    return query["expires"][0], query["sig"][0]


def test_a_link_opens_its_object_until_it_expires() -> None:
    clock = FrozenClock()
    signer = UrlSigner(KEY, clock, max_seconds=3600)
    expires, sig = _link(signer, "posts/a/1", 600)
    signer.check("posts/a/1", expires, sig)
    clock.advance(seconds=599)
    signer.check("posts/a/1", expires, sig)
    clock.advance(seconds=1)
    with pytest.raises(ApiError) as expired:
        signer.check("posts/a/1", expires, sig)
    assert (expired.value.code, expired.value.status) == ("files.link_expired", 403)


@pytest.mark.parametrize(
    ("object_key", "change"),
    [
        ("posts/a/2", "another object"),
        ("posts/a/1", "a later expiry"),
        ("posts/a/1", "another key's signature"),
        ("posts/a/1", "no signature"),
    ],
)
def test_a_changed_link_is_refused(object_key: str, change: str) -> None:
    signer = UrlSigner(KEY, FrozenClock(), max_seconds=3600)
    expires, sig = _link(signer, "posts/a/1", 600)
    if change == "a later expiry":
        expires = str(int(expires) + 3600)
    elif change == "another key's signature":
        sig = _link(UrlSigner(b"x" * 32, FrozenClock(), max_seconds=3600), object_key, 600)[1]
    elif change == "no signature":
        sig = ""
    with pytest.raises(ApiError) as refused:
        signer.check(object_key, expires, sig)
    assert (refused.value.code, refused.value.status) == ("files.invalid_link", 403)


@pytest.mark.parametrize("seconds", [0, -5, 3601])
def test_a_link_lasts_a_bounded_time(seconds: int) -> None:
    signer = UrlSigner(KEY, FrozenClock(), max_seconds=3600)
    with pytest.raises(ApiError) as refused:
        signer.sign("posts/a/1", seconds)
    assert refused.value.code == "files.invalid_expiry"

"""The SigV4 signer gives the signatures AWS publishes: its Signature Version 4 test suite
(service `service`, key AKIDEXAMPLE, 2015-08-30T12:36:00Z) and the worked examples of the S3
API reference (examplebucket, 2013-05-24), header-signed and presigned."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest

from minibase.files import sigv4
from minibase.files.sigv4 import Credentials

SUITE = Credentials(
    "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "us-east-1", "service"
)
SUITE_HEADERS = {"Host": "example.amazonaws.com", "X-Amz-Date": "20150830T123600Z"}

S3_DOCS = Credentials(
    "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "us-east-1"
)
# the POST policy of the S3 example "Browser-Based Upload using HTTP POST", base64 as signed
POST_EXAMPLE_POLICY = base64.b64encode(
    "\r\n".join(
        [
            '{ "expiration": "2015-12-30T12:00:00.000Z",',
            '  "conditions": [',
            '    {"bucket": "sigv4examplebucket"},',
            '    ["starts-with", "$key", "user/user1/"],',
            '    {"acl": "public-read"},',
            '    {"success_action_redirect":'
            ' "http://sigv4examplebucket.s3.amazonaws.com/successful_upload.html"},',
            '    ["starts-with", "$Content-Type", "image/"],',
            '    {"x-amz-meta-uuid": "14365123651274"},',
            '    {"x-amz-server-side-encryption": "AES256"},',
            '    ["starts-with", "$x-amz-meta-tag", ""],',
            "",
            '    {"x-amz-credential": "AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request"},',
            '    {"x-amz-algorithm": "AWS4-HMAC-SHA256"},',
            '    {"x-amz-date": "20151229T000000Z" }',
            "  ]",
            "}",
        ]
    ).encode()
).decode()
S3_HOST = "examplebucket.s3.amazonaws.com"
S3_DATE = "20130524T000000Z"
EMPTY = sigv4.EMPTY_PAYLOAD


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# name, method, path, query, extra headers, body, signature
SUITE_CASES = [
    (
        "get-vanilla",
        "GET",
        "/",
        [],
        {},
        "",
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    ),
    (
        "post-vanilla",
        "POST",
        "/",
        [],
        {},
        "",
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    ),
    (
        "get-vanilla-query-order-key-case",
        "GET",
        "/",
        [("Param2", "value2"), ("Param1", "value1")],
        {},
        "",
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    ),
    (
        "get-vanilla-utf8-query",
        "GET",
        "/",
        [("\u1234", "bar")],
        {},
        "",
        "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    ),
    (
        "get-unreserved",
        "GET",
        "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        [],
        {},
        "",
        "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    ),
    (
        "get-header-value-trim",
        "GET",
        "/",
        [],
        {"My-Header1": " value1", "My-Header2": '"a   b   c"'},
        "",
        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    ),
    (
        "post-header-value-case",
        "POST",
        "/",
        [],
        {"My-Header1": "VALUE1"},
        "",
        "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d",
    ),
    (
        "post-x-www-form-urlencoded",
        "POST",
        "/",
        [],
        {"Content-Type": "application/x-www-form-urlencoded"},
        "Param1=value1",
        "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "query", "extra", "body", "expected"),
    [case[1:] for case in SUITE_CASES],
    ids=[case[0] for case in SUITE_CASES],
)
def test_signature_matches_the_aws_test_suite(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    extra: dict[str, str],
    body: str,
    expected: str,
) -> None:
    headers = {**SUITE_HEADERS, **extra}
    header = sigv4.authorization(SUITE, method, path, query, headers, _sha256(body))
    signed = ";".join(sorted(name.lower() for name in headers))
    assert header == (
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request,"
        f" SignedHeaders={signed}, Signature={expected}"
    )


def test_canonical_request_and_string_to_sign_match_the_suite_for_get_vanilla() -> None:
    request, signed = sigv4.canonical_request("GET", "/", [], SUITE_HEADERS, EMPTY)
    assert request == (
        "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
        f"host;x-amz-date\n{EMPTY}"
    )
    assert signed == "host;x-amz-date"
    scope = sigv4.credential_scope("20150830T123600Z", SUITE)
    assert sigv4.string_to_sign("20150830T123600Z", scope, request) == (
        "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
        "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
    )


def test_signing_key_matches_the_derivation_example() -> None:
    key = sigv4.signing_key(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam"
    )
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


WELCOME = _sha256("Welcome to Amazon S3.")
# name, method, path, query, extra headers, payload hash, signature
S3_CASES = [
    (
        "get-object-range",
        "GET",
        "/test.txt",
        [],
        {"Range": "bytes=0-9", "x-amz-content-sha256": EMPTY},
        EMPTY,
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    ),
    (
        "put-object",
        "PUT",
        "/test$file.text",
        [],
        {
            "Date": "Fri, 24 May 2013 00:00:00 GMT",
            "x-amz-storage-class": "REDUCED_REDUNDANCY",
            "x-amz-content-sha256": WELCOME,
        },
        WELCOME,
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
    ),
    (
        "get-bucket-lifecycle",
        "GET",
        "/",
        [("lifecycle", "")],
        {"x-amz-content-sha256": EMPTY},
        EMPTY,
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
    ),
    (
        "list-objects",
        "GET",
        "/",
        [("max-keys", "2"), ("prefix", "J")],
        {"x-amz-content-sha256": EMPTY},
        EMPTY,
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "query", "extra", "payload", "expected"),
    [case[1:] for case in S3_CASES],
    ids=[case[0] for case in S3_CASES],
)
def test_signature_matches_the_s3_reference_examples(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    extra: dict[str, str],
    payload: str,
    expected: str,
) -> None:
    headers = {"Host": S3_HOST, "x-amz-date": S3_DATE, **extra}
    header = sigv4.authorization(S3_DOCS, method, path, query, headers, payload)
    assert header.startswith(
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
    )
    assert header.endswith(f", Signature={expected}")


def test_presigned_url_matches_the_s3_reference_example() -> None:
    query = sigv4.presign(S3_DOCS, "GET", "/test.txt", host=S3_HOST, date=S3_DATE, expires=86400)
    assert urlencode(query) == (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )


def test_a_presigned_upload_signs_its_content_type() -> None:
    def signature(content_type: str) -> str:
        query = sigv4.presign(
            S3_DOCS,
            "PUT",
            "/test.txt",
            host=S3_HOST,
            date=S3_DATE,
            expires=60,
            headers={"Content-Type": content_type},
        )
        assert ("X-Amz-SignedHeaders", "content-type;host") in query
        return dict(query)["X-Amz-Signature"]

    assert signature("image/png") != signature("text/html")


@pytest.mark.parametrize("expires", [0, 7 * 24 * 3600 + 1])
def test_presigned_urls_last_between_a_second_and_seven_days(expires: int) -> None:
    with pytest.raises(ValueError, match="expires"):
        sigv4.presign(S3_DOCS, "GET", "/k", host=S3_HOST, date=S3_DATE, expires=expires)


def test_paths_are_encoded_once_per_segment() -> None:
    assert sigv4.encode_path("/bucket/a b/\u00e9t\u00e9+(1).jpg") == (
        "/bucket/a%20b/%C3%A9t%C3%A9%2B%281%29.jpg"
    )


def test_amz_date_is_utc() -> None:
    moment = datetime(2013, 5, 24, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    assert sigv4.amz_date(moment) == "20130524T000000Z"
    with pytest.raises(ValueError, match="timezone"):
        sigv4.amz_date(datetime(2013, 5, 24))
    assert sigv4.amz_date(datetime(2013, 5, 24, tzinfo=UTC)) == S3_DATE


def test_a_post_policy_signature_matches_the_s3_browser_upload_example() -> None:
    """The base64 policy of AWS's "Browser-Based Upload using HTTP POST" example (CRLF line
    ends), signed on 2015-12-29: the policy is its own string to sign."""
    assert sigv4.sign(S3_DOCS, "20151229T000000Z", POST_EXAMPLE_POLICY) == (
        "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"
    )

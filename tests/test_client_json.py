"""JSON from a client is read by orjson, except that no integer outside signed 64 bits gets
through: orjson would round one beyond 2^64 into a float without a word."""

from __future__ import annotations

import orjson
import pytest

from minibase.client_json import parse_client_json
from minibase.errors import ApiError


def _refusal(raw: bytes | str) -> ApiError:
    with pytest.raises(ApiError) as caught:
        parse_client_json(raw)
    assert (caught.value.code, caught.value.status) == ("request.integer_out_of_range", 400)
    return caught.value


@pytest.mark.parametrize(
    "literal",
    [
        "9223372036854775808",  # 2^63: orjson reads it as an int no engine stores
        "18446744073709551615",
        "18446744073709551616",  # 2^64: orjson reads it as a rounded float
        "1180591620717411303424",
        "-9223372036854775809",
        "-1180591620717411303424",
        "1" + "0" * 300,
    ],
)
def test_an_integer_outside_64_bits_is_refused_with_its_path(literal: str) -> None:
    error = _refusal(f'{{"a": {{"b": [0, {literal}]}}}}'.encode())

    assert error.details == {"path": "a.b.1", "value": literal[:40]}
    assert error.message.startswith("a.b.1: integers must fit in 64 bits")


def test_the_first_integer_outside_64_bits_in_document_order_is_named() -> None:
    raw = b'[{"x": 1, "y": 99999999999999999999}, 18446744073709551616]'

    assert _refusal(raw).details["path"] == "0.y"
    assert _refusal(raw.decode()).details["path"] == "0.y"  # a query parameter is text
    assert _refusal(b"-18446744073709551616").details["path"] == ""


def test_the_64_bit_limits_long_digit_strings_and_large_floats_are_read_as_orjson_reads_them() -> (
    None
):
    raw = (
        b'{"max": 9223372036854775807, "min": -9223372036854775808, "id": "12345678901234567890",'
        b' "float": 18446744073709551616.0, "exp": 1e25, "small": 0.12345678901234567890123}'
    )

    value = parse_client_json(raw)

    assert value == orjson.loads(raw)
    assert type(value["max"]) is int
    assert value["max"] == 2**63 - 1
    assert value["min"] == -(2**63)
    assert value["float"] == 2.0**64


@pytest.mark.parametrize(
    "raw",
    [b"{", b"NaN", b"[Infinity]", b"1e400", b'"\\ud800"', b"[1] 2", b"[" * 1100 + b"]" * 1100],
)
def test_what_is_not_json_is_a_decode_error(raw: bytes) -> None:
    with pytest.raises(orjson.JSONDecodeError):
        parse_client_json(raw)


def test_nesting_too_deep_to_recheck_is_a_decode_error_not_a_crash() -> None:
    raw = b"[" * 1000 + b"1234567890123456789" + b"]" * 1000

    with pytest.raises(orjson.JSONDecodeError):
        parse_client_json(raw)

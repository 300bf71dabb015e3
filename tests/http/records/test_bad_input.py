"""Bad input answers a 4xx with a stable code and a message, and changes nothing."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable

import httpx
import orjson

from minibase.auth.caller import Caller
from minibase.services import Services
from minibase.testing.plugin import Actor, MakeUser

from .conftest import all_records, assert_error, create, make_collection, records_url

Calls = list[tuple[str, str]]


def _record_calls(collection: str, record_id: str) -> Calls:
    one = records_url(collection, f"/{record_id}")
    return [
        ("POST", records_url(collection)),
        ("PUT", one),
        ("PATCH", one),
        ("POST", records_url(collection, "/bulk-create")),
        ("POST", records_url(collection, "/bulk-update")),
        ("POST", records_url(collection, "/bulk-delete")),
    ]


async def test_a_body_that_is_not_a_json_object_is_refused(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts")
    user = await make_user()
    record = await create(client, user.headers, "posts", {"n": 1})
    headers = {**user.headers, "Content-Type": "application/json"}

    for method, url in _record_calls("posts", record["_id"]):
        for raw in (b"{", b"{'n': 1}", b"", b"  ", b'{"n": 1} trailing', b"\xff\xfe"):
            response = await client.request(method, url, headers=headers, content=raw)
            assert_error(response, 400, "request.malformed_json")
        for raw in (b"[1]", b'"text"', b"5", b"null", b"true"):
            response = await client.request(method, url, headers=headers, content=raw)
            assert_error(response, 400, "request.invalid_body")

    assert await all_records(client, admin, "posts") == [record]


async def test_a_body_that_does_not_say_it_is_json_is_refused_with_how_to_send_it(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts")
    user = await make_user()
    record = await create(client, user.headers, "posts", {"n": 1})
    types = (
        "application/x-www-form-urlencoded",  # my.httpRequest's default, and curl -d's
        "multipart/form-data; boundary=x",
        "text/plain; charset=utf-8",
        "text/html",
        "image/png",
        None,  # no Content-Type at all
    )

    for method, url in _record_calls("posts", record["_id"]):
        for content_type in types:
            headers = dict(user.headers)
            if content_type is not None:
                headers["Content-Type"] = content_type
            response = await client.request(method, url, headers=headers, content=b'{"n": 2}')
            body = assert_error(response, 415, "request.unsupported_media_type")
            assert "content-type: application/json" in body["message"]
            assert body["details"] == {"content_type": content_type}

    assert await all_records(client, admin, "posts") == [record]


async def test_json_media_types_with_parameters_or_a_json_suffix_are_read(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts")
    user = await make_user()

    for n, content_type in enumerate(
        ("application/json", "Application/JSON; charset=utf-8", "application/vnd.api+json")
    ):
        response = await client.post(
            records_url("posts"),
            headers={**user.headers, "Content-Type": content_type},
            content=orjson.dumps({"n": n}),
        )
        assert response.status_code == 201, response.text

    assert [r["n"] for r in await all_records(client, admin, "posts")] == [0, 1, 2]


OUTSIDE_64_BITS = (
    "9223372036854775808",  # 2^63
    "18446744073709551615",  # 2^64 - 1
    "18446744073709551616",  # 2^64
    "1180591620717411303424",  # 2^70
    "-1180591620717411303424",
    "-9223372036854775809",  # -2^63 - 1
)


async def test_integers_outside_64_bits_are_refused_wherever_records_take_json(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts")
    user = await make_user()
    record = await create(client, user.headers, "posts", {"n": 1})
    one = records_url("posts", f"/{record['_id']}")

    for big in OUTSIDE_64_BITS:
        calls = [
            ("POST", records_url("posts"), f'{{"x": {big}}}', "x"),
            ("PUT", one, f'{{"x": [1, {{"y": {big}}}]}}', "x.1.y"),
            ("PATCH", one, f'{{"x": {big}}}', "x"),
            ("PATCH", one, f'{{"$set": {{"a.b": {big}}}}}', "$set.a.b"),
            ("PATCH", one, f'{{"$inc": {{"n": {big}}}}}', "$inc.n"),
            ("POST", records_url("posts", "/bulk-create"), f'[{{"n": 2}}, {{"x": {big}}}]', "1.x"),
            (
                "POST",
                records_url("posts", "/bulk-update"),
                f'{{"filter": {{}}, "update": {{"$set": {{"x": {big}}}}}}}',
                "update.$set.x",
            ),
            (
                "POST",
                records_url("posts", "/bulk-delete"),
                f'{{"filter": {{"n": {big}}}}}',
                "filter.n",
            ),
        ]
        for method, url, body, path in calls:
            headers = {**user.headers, "Content-Type": "application/json"}
            response = await client.request(method, url, headers=headers, content=body)
            error = assert_error(response, 400, "request.integer_out_of_range")
            assert error["details"] == {"path": path, "value": big}
            assert path in error["message"]
        listed = await client.get(
            records_url("posts"),
            headers=user.headers,
            params={"filter": f'{{"n": {{"$lt": {big}}}}}'},
        )
        assert_error(listed, 400, "request.integer_out_of_range")
        assert listed.json()["details"]["path"] == "n.$lt"

    assert await all_records(client, admin, "posts") == [record]


async def test_integers_at_the_64_bit_limits_and_large_floats_are_kept_exactly(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts")
    user = await make_user()
    body = (
        b'{"high": 9223372036854775807, "low": -9223372036854775808,'
        b' "float": 18446744073709551616.0, "text": "12345678901234567890123"}'
    )

    response = await client.post(
        records_url("posts"),
        headers={**user.headers, "Content-Type": "application/json"},
        content=body,
    )

    assert response.status_code == 201, response.text
    (stored,) = await all_records(client, admin, "posts")
    assert stored["high"] == 2**63 - 1
    assert stored["low"] == -(2**63)
    assert stored["float"] == 2.0**64
    assert stored["text"] == "12345678901234567890123"


async def test_a_body_over_the_size_limit_is_refused_with_or_without_content_length(
    client: httpx.AsyncClient,
    admin: Actor,
    make_user: MakeUser,
    client_with: Callable[..., httpx.AsyncClient],
) -> None:
    small = client_with(max_body_bytes=200)
    await make_collection(client, admin, "posts")
    user = await make_user()
    record = await create(client, user.headers, "posts", {"n": 1})
    big = orjson.dumps({"text": "x" * 300})

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 50):
            yield big[start : start + 50]

    for method, url in _record_calls("posts", record["_id"]):
        sized = await small.request(method, url, headers=user.headers, content=big)
        assert_error(sized, 413, "request.body_too_large")
        streamed = await small.request(method, url, headers=user.headers, content=chunks())
        assert "content-length" not in streamed.request.headers
        assert_error(streamed, 413, "request.body_too_large")
    fits = await small.post(records_url("posts"), headers=user.headers, json={"text": "x" * 100})

    assert fits.status_code == 201
    assert [r.get("n") for r in await all_records(client, admin, "posts")] == [1, None]


async def test_an_unknown_collection_is_not_found_on_every_route(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user = await make_user()
    calls = [*_record_calls("nothing", "x"), ("GET", records_url("nothing")), ("DELETE", "")]
    calls[-1] = ("DELETE", records_url("nothing", "/x"))
    calls.append(("GET", records_url("nothing", "/x")))

    for method, url in calls:
        for actor_headers in (user.headers, admin.headers, {}):
            response = await client.request(method, url, headers=actor_headers, json={})
            assert_error(response, 404, "collections.not_found")


async def test_query_parameters_that_cannot_be_used_are_refused(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(client, admin, "posts")
    user = await make_user()
    await create(client, user.headers, "posts", {"n": 1})

    for params in ({"page": "2"}, {"offset": "5"}, {"Limit": "5"}, {"where": "{}"}):
        response = await client.get(records_url("posts"), params=params)
        assert_error(response, 400, "request.invalid_query")
    response = await client.get(records_url("posts"), params={"sort": "score;DROP TABLE x"})
    assert_error(response, 400, "records.invalid_sort")
    not_a_route = await client.post(records_url("posts", "/x/y"), json={})
    assert_error(not_a_route, 404, "request.not_found")
    wrong_method = await client.post(records_url("posts", "/x"), json={})
    assert_error(wrong_method, 405, "request.method_not_allowed")


def _forged(token: str, **claims: object) -> str:
    """The token with its payload edited and the original signature kept."""
    header, payload, signature = token.split(".")
    decoded = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    edited = base64.urlsafe_b64encode(orjson.dumps({**decoded, **claims})).rstrip(b"=")
    return f"{header}.{edited.decode()}.{signature}"


async def test_expired_forged_and_malformed_tokens_are_refused_and_change_nothing(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, services: Services
) -> None:
    await make_collection(client, admin, "posts")
    user, victim = await make_user(), await make_user()
    record = await create(client, victim.headers, "posts", {"n": 1})
    expired = services.signer.issue(Caller(kind="user", id=user.id), -1)
    refused = {
        "Bearer " + _forged(user.token, sub=victim.id): "auth.invalid_token",
        "Bearer " + _forged(user.token, typ="admin"): "auth.invalid_token",
        "Bearer " + _forged(expired, exp=4102444800): "auth.invalid_token",
        "Bearer " + user.token[:-2]: "auth.invalid_token",
        "Bearer " + user.token + "x": "auth.invalid_token",
        "Bearer not.a.token": "auth.invalid_token",
        "Bearer ...": "auth.invalid_token",
        "Bearer ": "auth.invalid_token",
        "Basic dXNlcjpwYXNz": "auth.invalid_token",
        user.token: "auth.invalid_token",
        "Bearer " + expired: "auth.token_expired",
    }
    one = records_url("posts", f"/{record['_id']}")
    calls = [*_record_calls("posts", record["_id"]), ("GET", records_url("posts")), ("GET", one)]
    calls.append(("DELETE", one))

    for authorization, code in refused.items():
        for method, url in calls:
            headers = {"Authorization": authorization}
            response = await client.request(method, url, headers=headers, json={"filter": {}})
            assert_error(response, 401, code)
            assert response.headers["www-authenticate"] == "Bearer"

    assert await all_records(client, admin, "posts") == [record]

"""Who gets a link to a file: the read rule of the record that holds it decides (a pending
upload is its uploader's), admins see all, and a link works only as signed, for its own file,
until it expires. A collection anyone may read serves its files without a signature.

Time is a FrozenClock here, so a test can step past a link's expiry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import pytest
from tests.http.files.conftest import jpeg, make_collection, upload
from tests.http.records.conftest import assert_error, create, records_url

from minibase.clock import FrozenClock
from minibase.config import Settings
from minibase.services import Services, open_services
from minibase.testing.plugin import Actor, MakeUser

PHOTO = {"type": "file", "types": ["image/*"]}
MADE_UP = "01JZZZZZZZZZZZZZZZZZZZZZZZ"


@pytest.fixture
async def services(settings: Settings, clock: FrozenClock) -> AsyncIterator[Services]:
    opened = await open_services(settings, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


async def posts(client: httpx.AsyncClient, admin: Actor, **rules: Any) -> None:
    await make_collection(
        client, admin, "posts", {"title": {"type": "string"}, "photo": PHOTO}, rules=rules
    )


async def pending(client: httpx.AsyncClient, actor: Actor) -> dict[str, Any]:
    ref: dict[str, Any] = (
        await upload(client, actor, "/api/collections/posts/files/photo", jpeg())
    )["file"]
    return ref


async def attached(client: httpx.AsyncClient, actor: Actor, **fields: Any) -> dict[str, Any]:
    ref = await pending(client, actor)
    await create(client, actor.headers, "posts", {"title": "t", **fields, "photo": ref["id"]})
    return ref


async def links(
    client: httpx.AsyncClient, actor: Actor | None, ids: list[str], **extra: Any
) -> list[dict[str, Any]]:
    response = await client.post(
        "/api/files/temp-urls",
        headers=actor.headers if actor else {},
        json={"files": ids, **extra},
    )
    assert response.status_code == 200, response.text
    answers: list[dict[str, Any]] = response.json()["files"]
    assert [answer["id"] for answer in answers] == ids
    return answers


async def link(client: httpx.AsyncClient, actor: Actor | None, file_id: str, **extra: Any) -> str:
    answer = (await links(client, actor, [file_id], **extra))[0]
    assert "url" in answer, answer
    url: str = answer["url"]
    return url


def error_code(answer: dict[str, Any]) -> str | None:
    code: str | None = answer.get("error", {}).get("code")
    return code


def unsigned(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def with_query(url: str, **query: str) -> str:
    parts = urlsplit(url)
    text = "&".join(f"{name}={value}" for name, value in query.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, text, ""))


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


# -- temp-urls -------------------------------------------------------------------------------


async def test_a_file_in_a_record_the_read_rule_hides_is_files_not_found(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await posts(client, admin, preset="owner_only")
    ann, bob = await make_user(), await make_user()
    ref = await attached(client, ann)

    assert "url" in (await links(client, ann, [ref["id"]]))[0]
    for caller in (bob, None):
        (answer,) = await links(client, caller, [ref["id"]])
        assert error_code(answer) == "files.not_found"
        assert "url" not in answer


async def test_a_file_shows_as_its_record_shows_under_a_rule_on_the_record(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await make_collection(
        client,
        admin,
        "posts",
        {"title": {"type": "string"}, "shown": {"type": "boolean"}, "photo": PHOTO},
        rules={
            "preset": "public_read_owner_write",
            "read": "doc.shown == true || doc._owner == auth.id",
        },
    )
    ann, bob = await make_user(), await make_user()
    ref = await pending(client, ann)
    record = await create(client, ann.headers, "posts", {"shown": False, "photo": ref["id"]})

    assert error_code((await links(client, bob, [ref["id"]]))[0]) == "files.not_found"
    shown = await client.patch(
        records_url("posts", f"/{record['_id']}"), headers=ann.headers, json={"shown": True}
    )
    assert shown.status_code == 200, shown.text
    assert "url" in (await links(client, bob, [ref["id"]]))[0]


async def test_a_pending_upload_is_only_its_uploaders_and_admins(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await posts(client, admin, preset="public_read_owner_write")
    ann, bob = await make_user(), await make_user()
    ref = await pending(client, ann)

    assert "url" in (await links(client, ann, [ref["id"]]))[0]
    assert "url" in (await links(client, admin, [ref["id"]]))[0]
    for caller in (bob, None):
        assert error_code((await links(client, caller, [ref["id"]]))[0]) == "files.not_found"


async def test_admins_get_links_to_every_file(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await posts(client, admin, preset="owner_only")
    ann, bob = await make_user(), await make_user()
    files = [await attached(client, ann), await attached(client, bob), await pending(client, bob)]

    answers = await links(client, admin, [ref["id"] for ref in files])

    for ref, answer in zip(files, answers, strict=True):
        download = await client.get(answer["url"])
        assert download.status_code == 200, download.text
        assert download.headers["etag"] == f'"{ref["etag"]}"'


async def test_answers_come_in_the_order_asked_with_an_error_for_each_unknown_id(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await posts(client, admin, preset="public_read_owner_write")
    ann = await make_user()
    first, second = await attached(client, ann), await pending(client, ann)
    ids = ["not-an-id", first["id"], MADE_UP, second["id"]]

    answers = await links(client, ann, ids)

    assert [error_code(answer) for answer in answers] == [
        "files.not_found",
        None,
        "files.not_found",
        None,
    ]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"files": []}, id="no-ids"),
        pytest.param({"files": [MADE_UP] * 51}, id="51-ids"),
        pytest.param({"files": MADE_UP}, id="not-a-list"),
        pytest.param({"files": [MADE_UP], "expires": 0}, id="expires-0"),
        pytest.param({"files": [MADE_UP], "expires": 7 * 24 * 3600 + 1}, id="expires-past-max"),
        pytest.param({"files": [MADE_UP], "expires": "600"}, id="expires-text"),
        pytest.param({"files": [MADE_UP], "expires": True}, id="expires-true"),
    ],
)
async def test_a_temp_urls_request_out_of_bounds_is_400(
    client: httpx.AsyncClient, make_user: MakeUser, body: dict[str, Any]
) -> None:
    ann = await make_user()

    response = await client.post("/api/files/temp-urls", headers=ann.headers, json=body)

    assert response.status_code == 400, response.text
    assert response.json()["code"] in ("request.invalid_body", "files.invalid_expiry")


# -- the links -------------------------------------------------------------------------------


async def test_a_collection_anyone_may_read_serves_its_files_without_a_signature(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await posts(client, admin, preset="public_read_owner_write")
    ann = await make_user()
    ref = await attached(client, ann)
    url = unsigned(await link(client, ann, ref["id"]))

    download = await client.get(url)

    assert download.status_code == 200, download.text
    assert download.content == jpeg()
    assert download.headers["cache-control"].startswith("public")


async def test_a_pending_upload_of_a_public_collection_needs_a_signature(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await posts(client, admin, preset="public_read_owner_write")
    ann = await make_user()
    ref = await pending(client, ann)
    url = await link(client, ann, ref["id"])

    assert_error(await client.get(unsigned(url)), 403, "files.invalid_link")
    assert (await client.get(url)).status_code == 200


@pytest.mark.parametrize(
    "rules",
    [
        pytest.param({"preset": "owner_only"}, id="owner-only"),
        pytest.param(
            {"preset": "public_read_owner_write", "read": "auth.id != null"}, id="signed-in"
        ),
        pytest.param({"preset": "admin_only"}, id="admin-only"),
    ],
)
async def test_a_private_collection_answers_403_without_a_signature(
    client: httpx.AsyncClient, admin: Actor, rules: dict[str, Any]
) -> None:
    await posts(client, admin, **rules)
    ref = await attached(client, admin)
    url = await link(client, admin, ref["id"])
    expires, sig = query_of(url)["expires"], query_of(url)["sig"]

    for changed in (unsigned(url), with_query(url, expires=expires), with_query(url, sig=sig)):
        response = await client.get(changed)
        assert_error(response, 403, "files.invalid_link")
    assert (await client.get(url)).status_code == 200


async def test_a_link_expires(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser, clock: FrozenClock
) -> None:
    await posts(client, admin, preset="owner_only")
    ann = await make_user()
    ref = await attached(client, ann)
    (answer,) = await links(client, ann, [ref["id"]], expires=60)
    assert answer["expires_at"] == int(clock.now().timestamp()) + 60

    clock.advance(seconds=59)
    fresh = await client.get(answer["url"])
    assert fresh.status_code == 200, fresh.text
    assert "private" in fresh.headers["cache-control"]
    clock.advance(seconds=1)
    assert_error(await client.get(answer["url"]), 403, "files.link_expired")
    assert_error(await client.get(answer["url"] + "&thumb=32x32"), 403, "files.link_expired")


async def test_a_changed_signature_a_stretched_expiry_or_another_files_link_is_403(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await posts(client, admin, preset="owner_only")
    ann, bob = await make_user(), await make_user()
    mine, theirs = await attached(client, ann), await attached(client, bob)
    url = await link(client, ann, mine["id"], expires=60)
    expires, sig = query_of(url)["expires"], query_of(url)["sig"]
    flipped = ("B" if sig[0] == "A" else "A") + sig[1:]

    forged = [
        with_query(url, expires=expires, sig=flipped),
        with_query(url, expires=expires, sig=sig[:-1]),
        with_query(url, expires=expires, sig=""),
        with_query(url, expires=str(int(expires) + 3600), sig=sig),
        with_query(url, expires=expires + "0", sig=sig),
        url.replace(mine["id"], theirs["id"]),
    ]
    for changed in forged:
        response = await client.get(changed)
        assert_error(response, 403, "files.invalid_link")
    assert (await client.get(url)).status_code == 200


async def test_a_link_to_a_file_whose_record_was_deleted_stops_working(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    await posts(client, admin, preset="owner_only")
    ann = await make_user()
    ref = await pending(client, ann)
    record = await create(client, ann.headers, "posts", {"photo": ref["id"]})
    url = await link(client, ann, ref["id"])

    deleted = await client.delete(records_url("posts", f"/{record['_id']}"), headers=ann.headers)
    assert deleted.status_code in (200, 204), deleted.text

    assert_error(await client.get(url), 404, "files.not_found")
    assert error_code((await links(client, ann, [ref["id"]]))[0]) == "files.not_found"

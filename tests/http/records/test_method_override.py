"""Mini programs' request APIs (wx.request, my.request, tt.request ...) send no PATCH: a POST
with `X-HTTP-Method-Override: PATCH` is the record update, and nothing else changes."""

from __future__ import annotations

import httpx

from minibase.testing.plugin import Actor, MakeUser

from .conftest import assert_error, create, make_collection, records_url


async def _a_note(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> tuple[Actor, str]:
    """A user and the URL of their note, whose score is 1."""
    await make_collection(client, admin, "notes", {"score": {"type": "integer"}})
    user = await make_user()
    note = await create(client, user.headers, "notes", {"score": 1})
    return user, f"{records_url('notes')}/{note['_id']}"


async def test_a_post_standing_for_patch_updates_the_record(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user, url = await _a_note(client, admin, make_user)

    updated = await client.post(
        url,
        json={"$inc": {"score": 2}},
        headers={**user.headers, "X-HTTP-Method-Override": "patch"},
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["score"] == 3
    read = await client.get(url, headers=user.headers)
    assert read.json()["score"] == 3


async def test_an_override_to_another_method_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, admin: Actor, make_user: MakeUser
) -> None:
    user, url = await _a_note(client, admin, make_user)

    refused = await client.post(
        url, json={"score": 9}, headers={**user.headers, "X-HTTP-Method-Override": "GET"}
    )
    assert_error(refused, 400, "request.invalid_method_override")
    assert (await client.get(url, headers=user.headers)).json()["score"] == 1
    # a POST without the header is still the POST it was: this path takes none
    plain = await client.post(url, json={"score": 9}, headers=user.headers)
    assert plain.status_code == 405

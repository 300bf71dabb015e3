"""Douyin guests: a person not logged in to the Douyin app signs in with tt.login's
anonymousCode alone and gets an account of their own; when they log in to Douyin and the
client sends both codes, the guest's account joins theirs, and the phone's next guest starts
afresh."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from tests.http.login.conftest import bearer

from minibase.services import Services
from minibase.testing.plugin import Actor, RegisterApp
from minibase.testing.sandbox import SandboxClient

APPID = "tt2222"


@pytest.fixture(autouse=True)
async def douyin_app(register_app: RegisterApp) -> None:
    await register_app("douyin", APPID)


async def _login(client: httpx.AsyncClient, **codes: str) -> httpx.Response:
    return await client.post("/api/auth/douyin/login", json={"appid": APPID, **codes})


async def sign_in_as_guest(
    client: httpx.AsyncClient, sandbox: SandboxClient, person: str
) -> dict[str, Any]:
    """tt.login on a phone not logged in to Douyin: only anonymousCode."""
    minted = await sandbox.login_code("douyin", APPID, person, guest=True)
    response = await _login(client, anonymous_code=minted["anonymous_code"])
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def sign_in_with_both_codes(
    client: httpx.AsyncClient, sandbox: SandboxClient, person: str
) -> dict[str, Any]:
    """tt.login once logged in to Douyin: code and anonymousCode, both sent."""
    minted = await sandbox.login_code("douyin", APPID, person)
    response = await _login(client, code=minted["code"], anonymous_code=minted["anonymous_code"])
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _notes(client: httpx.AsyncClient, admin: Actor) -> None:
    created = await client.post(
        "/api/admin/collections",
        headers=admin.headers,
        json={"name": "notes", "rules": {"preset": "owner_only"}},
    )
    assert created.status_code == 201, created.text


async def _note(client: httpx.AsyncClient, session: dict[str, Any], text: str) -> str:
    written = await client.post(
        "/api/collections/notes/records", headers=bearer(session), json={"text": text}
    )
    assert written.status_code == 201, written.text
    return str(written.json()["_id"])


async def test_a_guest_signs_in_with_the_anonymous_code_alone_and_comes_back_to_one_account(
    client: httpx.AsyncClient, sandbox: SandboxClient, services: Services
) -> None:
    first = await sign_in_as_guest(client, sandbox, "ann")

    assert first["is_new_user"] is True
    minted = await sandbox.login_code("douyin", APPID, "ann", guest=True)
    assert {**first["identity"], "created": "(first visit)"} == {
        "platform": "douyin",
        "appid": APPID,
        "openid": None,
        "unionid": None,
        "created": "(first visit)",
        "guest": True,
        "anonymous_openid": minted["anonymous_openid"],
    }
    assert "session_key" not in str(first)
    me = await client.get("/api/auth/me", headers=bearer(first))
    assert me.json()["id"] == first["user"]["id"]
    assert me.json()["identities"] == [first["identity"]]
    again = await _login(client, anonymous_code=minted["anonymous_code"])
    assert again.json()["user"]["id"] == first["user"]["id"]
    assert again.json()["is_new_user"] is False
    assert await services.db.fetch_value("SELECT COUNT(*) FROM user_identities") == 0
    assert await services.db.fetch_value("SELECT COUNT(*) FROM guest_identities") == 1


async def test_a_guest_who_logs_in_to_douyin_keeps_the_account_and_its_records(
    client: httpx.AsyncClient, sandbox: SandboxClient, admin: Actor
) -> None:
    await _notes(client, admin)
    guest = await sign_in_as_guest(client, sandbox, "ann")
    note = await _note(client, guest, "written as a guest")

    person = await sign_in_with_both_codes(client, sandbox, "ann")

    assert person["user"]["id"] == guest["user"]["id"]
    assert person["is_new_user"] is False
    assert person["merged_guest"] is None
    assert person["identity"]["guest"] is False
    assert person["identity"]["openid"] is not None
    assert person["identity"]["anonymous_openid"] == guest["identity"]["anonymous_openid"]
    mine = await client.get(f"/api/collections/notes/records/{note}", headers=bearer(person))
    assert mine.status_code == 200
    # the phone's next guest is someone new: never the logged-in person's account
    next_guest = await sign_in_as_guest(client, sandbox, "ann")
    assert next_guest["user"]["id"] != person["user"]["id"]
    assert next_guest["is_new_user"] is True


async def test_a_guest_joins_the_account_the_person_already_has(
    client: httpx.AsyncClient, sandbox: SandboxClient, admin: Actor, services: Services
) -> None:
    await _notes(client, admin)
    minted = await sandbox.login_code("douyin", APPID, "ann")
    known = (await _login(client, code=minted["code"])).json()
    guest = await sign_in_as_guest(client, sandbox, "ann")
    note = await _note(client, guest, "written as a guest")
    assert guest["user"]["id"] != known["user"]["id"]

    person = await sign_in_with_both_codes(client, sandbox, "ann")

    assert person["user"]["id"] == known["user"]["id"]
    assert person["merged_guest"] == guest["user"]["id"]
    assert (await client.get("/api/auth/me", headers=bearer(guest))).status_code == 401
    moved = await client.get(f"/api/collections/notes/records/{note}", headers=bearer(person))
    assert moved.json()["_owner"] == known["user"]["id"]
    assert await services.db.fetch_value("SELECT COUNT(*) FROM users") == 1
    assert await services.db.fetch_value("SELECT COUNT(*) FROM guest_identities") == 0


async def test_a_login_with_both_codes_and_no_guest_account_is_an_ordinary_login(
    client: httpx.AsyncClient, sandbox: SandboxClient, services: Services
) -> None:
    person = await sign_in_with_both_codes(client, sandbox, "ann")
    assert person["is_new_user"] is True
    assert person["merged_guest"] is None
    assert await services.db.fetch_value("SELECT COUNT(*) FROM guest_identities") == 0


async def test_a_disabled_guest_account_joins_nothing(
    client: httpx.AsyncClient, sandbox: SandboxClient, admin: Actor
) -> None:
    guest = await sign_in_as_guest(client, sandbox, "ann")
    disabled = await client.patch(
        f"/api/admin/users/{guest['user']['id']}", headers=admin.headers, json={"disabled": True}
    )
    assert disabled.status_code == 200, disabled.text

    person = await sign_in_with_both_codes(client, sandbox, "ann")

    assert person["user"]["id"] != guest["user"]["id"]
    assert person["is_new_user"] is True
    assert person["merged_guest"] is None
    still = await client.get(f"/api/admin/users/{guest['user']['id']}", headers=admin.headers)
    assert still.json()["disabled"] is True


async def test_a_used_anonymous_code_is_an_invalid_code_with_douyins_err_no(
    client: httpx.AsyncClient, sandbox: SandboxClient
) -> None:
    minted = await sandbox.login_code("douyin", APPID, "ann", guest=True)
    await _login(client, anonymous_code=minted["anonymous_code"])
    again = await _login(client, anonymous_code=minted["anonymous_code"])
    assert (again.status_code, again.json()["code"]) == (400, "auth.invalid_code")
    assert again.json()["details"]["errcode"] == 40019


@pytest.mark.parametrize(
    "body",
    [{}, {"code": None}, {"anonymous_code": ""}, {"anonymous_code": 5}, {"code": "c" * 600}],
)
async def test_a_douyin_login_needs_a_code_or_an_anonymous_code(
    client: httpx.AsyncClient, sandbox: SandboxClient, body: dict[str, Any]
) -> None:
    answer = await _login(client, **body)
    assert (answer.status_code, answer.json()["code"]) == (400, "request.invalid_body")
    assert (await sandbox.calls()).get("douyin") is None


async def test_a_guest_has_no_session_key_for_a_phone_number(
    client: httpx.AsyncClient, sandbox: SandboxClient
) -> None:
    guest = await sign_in_as_guest(client, sandbox, "ann")
    sealed = {"encrypted_data": "c2VhbGVk", "iv": "aXYtaXYtaXYtaXYtaXYtaQ=="}
    answer = await client.post("/api/auth/phone", headers=bearer(guest), json=sealed)
    assert (answer.status_code, answer.json()["code"]) == (400, "auth.no_session")

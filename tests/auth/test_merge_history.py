"""Every merge of two accounts is remembered: the surviving account's admin view lists the
accounts merged into it (newest first, with the identities and records they brought), an id
merged away answers 404 naming the live account it went into, and deleting the account forgets
its history."""

from __future__ import annotations

from typing import Any

import httpx
from openapi_schema_validator import OAS31Validator
from tests.http.login.conftest import bearer, sign_in

from minibase.clock import FrozenClock, isoformat
from minibase.services import Services
from minibase.testing.plugin import Actor, RegisterApp
from minibase.testing.sandbox import SandboxClient

USERS = "/api/admin/users"
PHONE = "13800138000"
WECHAT = "wx1111"
DOUYIN = "tt2222"


async def _notes(client: httpx.AsyncClient, admin: Actor) -> None:
    created = await client.post(
        "/api/admin/collections",
        headers=admin.headers,
        json={"name": "notes", "rules": {"preset": "owner_only"}},
    )
    assert created.status_code == 201, created.text


async def _note(client: httpx.AsyncClient, session: dict[str, Any]) -> None:
    written = await client.post(
        "/api/collections/notes/records", headers=bearer(session), json={"text": "mine"}
    )
    assert written.status_code == 201, written.text


async def _douyin_login(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    person: str = "ann",
    *,
    guest: bool = False,
    both: bool = False,
) -> dict[str, Any]:
    """tt.login: logged in to Douyin (code), a guest (anonymous code), or both codes."""
    minted = await sandbox.login_code("douyin", DOUYIN, person, guest=guest)
    codes = {"anonymous_code": minted["anonymous_code"]} if guest else {"code": minted["code"]}
    if both:
        codes["anonymous_code"] = minted["anonymous_code"]
    answer = await client.post("/api/auth/douyin/login", json={"appid": DOUYIN, **codes})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def _bind_phone(
    client: httpx.AsyncClient, session: dict[str, Any], body: dict[str, Any]
) -> httpx.Response:
    return await client.post("/api/auth/phone", headers=bearer(session), json=body)


async def _merge_by_phone(
    client: httpx.AsyncClient, session: dict[str, Any], phone_body: dict[str, Any]
) -> dict[str, Any]:
    """The account binds the phone another holds, and accepts the merge it is offered."""
    taken = await _bind_phone(client, session, phone_body)
    assert (taken.status_code, taken.json()["code"]) == (409, "users.phone_taken")
    merged = await client.post(
        "/api/auth/merge",
        headers=bearer(session),
        json={"merge_token": taken.json()["details"]["merge_token"]},
    )
    assert merged.status_code == 200, merged.text
    body: dict[str, Any] = merged.json()
    return body


async def ann_on_wechat_with_her_phone(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp
) -> dict[str, Any]:
    await register_app("wechat", WECHAT)
    on_wechat = await sign_in(client, sandbox, "wechat", WECHAT, "ann")
    code = await sandbox.phone_code(WECHAT, "ann", PHONE)
    assert (await _bind_phone(client, on_wechat, {"code": code})).status_code == 200
    return on_wechat


async def _admin_read(client: httpx.AsyncClient, admin: Actor, user_id: str) -> httpx.Response:
    return await client.get(f"{USERS}/{user_id}", headers=admin.headers)


async def test_a_merge_is_listed_in_the_history_of_the_account_it_went_into(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    clock: FrozenClock,
) -> None:
    await _notes(client, admin)
    on_wechat = await ann_on_wechat_with_her_phone(client, sandbox, register_app)
    await register_app("douyin", DOUYIN)
    on_douyin = await _douyin_login(client, sandbox)
    await _note(client, on_douyin)
    await _note(client, on_douyin)
    clock.advance(minutes=5)

    phone = await sandbox.encrypted_data("douyin", DOUYIN, "ann", {"phoneNumber": PHONE})
    await _merge_by_phone(client, on_douyin, phone)

    survivor = await _admin_read(client, admin, on_wechat["user"]["id"])
    assert survivor.status_code == 200
    assert survivor.json()["merged_from"] == [
        {
            "user": on_douyin["user"]["id"],
            "into": on_wechat["user"]["id"],
            "merged_at": isoformat(clock.now()),
            "identities": [
                {
                    "platform": "douyin",
                    "appid": DOUYIN,
                    "openid": on_douyin["identity"]["openid"],
                    "guest": False,
                }
            ],
            "records": 2,
        }
    ]
    document = (await client.get("/api/openapi.json")).json()
    described = document["paths"][f"{USERS}/{{id}}"]["get"]["responses"]["200"]
    schema = described["content"]["application/json"]["schema"]
    assert list(OAS31Validator(schema).iter_errors(survivor.json())) == []
    assert "merged_from" in schema["required"]


async def test_the_history_keeps_no_session_key_and_no_phone_number(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
) -> None:
    await ann_on_wechat_with_her_phone(client, sandbox, register_app)
    await register_app("douyin", DOUYIN)
    on_douyin = await _douyin_login(client, sandbox)
    phone = await sandbox.encrypted_data("douyin", DOUYIN, "ann", {"phoneNumber": PHONE})
    sealed_key = await services.db.fetch_value(
        "SELECT session_key FROM user_identities WHERE openid = ?", on_douyin["identity"]["openid"]
    )
    assert sealed_key is not None

    await _merge_by_phone(client, on_douyin, phone)

    (row,) = await services.db.fetch_all("SELECT * FROM user_merges")
    stored = str(row)
    assert PHONE not in stored
    assert sealed_key not in stored
    assert "session" not in stored
    assert on_douyin["identity"]["openid"] in stored


async def test_an_id_merged_away_answers_404_naming_the_account_it_went_into(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
) -> None:
    on_wechat = await ann_on_wechat_with_her_phone(client, sandbox, register_app)
    await register_app("douyin", DOUYIN)
    on_douyin = await _douyin_login(client, sandbox)
    phone = await sandbox.encrypted_data("douyin", DOUYIN, "ann", {"phoneNumber": PHONE})
    await _merge_by_phone(client, on_douyin, phone)
    gone = on_douyin["user"]["id"]

    for method, path in (
        ("GET", f"{USERS}/{gone}"),
        ("PATCH", f"{USERS}/{gone}"),
        ("DELETE", f"{USERS}/{gone}"),
        ("POST", f"{USERS}/{gone}/tokens"),
        ("POST", f"{USERS}/{gone}/revoke"),
    ):
        body = {"roles": []} if method == "PATCH" else None
        answer = await client.request(method, path, json=body, headers=admin.headers)
        assert answer.status_code == 404, path
        assert answer.json()["code"] == "users.not_found"
        assert answer.json()["details"] == {"merged_into": on_wechat["user"]["id"]}, path
    never = await _admin_read(client, admin, "nobody")
    assert (never.status_code, never.json()["code"]) == (404, "users.not_found")
    assert "details" not in never.json()  # never merged: nothing to follow


async def test_merges_in_a_chain_lead_to_the_live_account_and_its_history_lists_them_all(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    clock: FrozenClock,
) -> None:
    await _notes(client, admin)
    on_wechat = await ann_on_wechat_with_her_phone(client, sandbox, register_app)
    await register_app("douyin", DOUYIN)
    person = await _douyin_login(client, sandbox)
    guest = await _douyin_login(client, sandbox, guest=True)
    await _note(client, guest)
    clock.advance(minutes=1)
    joined = await _douyin_login(client, sandbox, both=True)  # the guest joins the person
    assert joined["merged_guest"] == guest["user"]["id"]
    guest_joined_at = isoformat(clock.now())
    clock.advance(minutes=1)
    phone = await sandbox.encrypted_data("douyin", DOUYIN, "ann", {"phoneNumber": PHONE})
    await _merge_by_phone(client, joined, phone)  # then the person's account goes into WeChat's

    survivor = (await _admin_read(client, admin, on_wechat["user"]["id"])).json()
    assert survivor["merged_from"] == [
        {
            "user": person["user"]["id"],
            "into": on_wechat["user"]["id"],
            "merged_at": isoformat(clock.now()),
            "identities": [
                {
                    "platform": "douyin",
                    "appid": DOUYIN,
                    "openid": person["identity"]["openid"],
                    "guest": False,
                }
            ],
            "records": 1,  # the guest's note, moved twice
        },
        {
            "user": guest["user"]["id"],
            "into": person["user"]["id"],
            "merged_at": guest_joined_at,
            "identities": [
                {
                    "platform": "douyin",
                    "appid": DOUYIN,
                    "openid": None,
                    "guest": True,
                    "anonymous_openid": guest["identity"]["anonymous_openid"],
                }
            ],
            "records": 1,
        },
    ]
    for gone in (guest, person):
        answer = await _admin_read(client, admin, gone["user"]["id"])
        assert answer.json()["details"] == {"merged_into": on_wechat["user"]["id"]}


async def test_deleting_an_account_forgets_its_merge_history(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Actor,
    services: Services,
) -> None:
    on_wechat = await ann_on_wechat_with_her_phone(client, sandbox, register_app)
    await register_app("douyin", DOUYIN)
    person = await _douyin_login(client, sandbox)
    guest = await _douyin_login(client, sandbox, guest=True)
    joined = await _douyin_login(client, sandbox, both=True)
    phone = await sandbox.encrypted_data("douyin", DOUYIN, "ann", {"phoneNumber": PHONE})
    await _merge_by_phone(client, joined, phone)
    bob = await _douyin_login(client, sandbox, "bob")
    bob_guest = await _douyin_login(client, sandbox, "bob", guest=True)
    await _douyin_login(client, sandbox, "bob", both=True)  # bob's history stays
    assert await services.db.fetch_value("SELECT COUNT(*) FROM user_merges") == 3

    deleted = await client.delete(f"{USERS}/{on_wechat['user']['id']}", headers=admin.headers)

    assert deleted.status_code == 204
    for gone in (guest, person, on_wechat):
        answer = await _admin_read(client, admin, gone["user"]["id"])
        assert (answer.status_code, answer.json()["code"]) == (404, "users.not_found")
        assert "details" not in answer.json()
    (kept,) = (await _admin_read(client, admin, bob["user"]["id"])).json()["merged_from"]
    assert kept["user"] == bob_guest["user"]["id"]
    assert await services.db.fetch_value("SELECT COUNT(*) FROM user_merges") == 1

"""Phone numbers the platform vouches for: every platform's flow, stored sealed with a keyed
hash beside it, answered masked, and never bound to two accounts without an explicit merge."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from openapi_schema_validator import OAS31Validator
from tests.http.login.conftest import bearer, sign_in

from minibase.services import Services
from minibase.testing.plugin import RegisterApp
from minibase.testing.sandbox import SandboxClient

PHONE = "13800138000"
APPS = {
    "wechat": "wx1111",
    "qq": "1110001",
    "douyin": "tt2222",
    "baidu": "bdkey3333",
    "alipay": "2021000000000001",
}


async def _phone_body(sandbox: SandboxClient, platform: str, person: str) -> dict[str, Any]:
    """What the mini program would send after the platform's getPhoneNumber."""
    appid = APPS[platform]
    if platform == "alipay":
        return await sandbox.alipay_phone(appid, person, PHONE)
    data = (
        {"mobile": PHONE}
        if platform == "baidu"
        else {"phoneNumber": PHONE, "purePhoneNumber": PHONE, "countryCode": "86"}
    )
    return await sandbox.encrypted_data(platform, appid, person, data)


async def ann_with_a_phone_on_wechat_then_on_alipay(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Ann binds her phone on WeChat, then signs in on Alipay: a second account, for now."""
    await register_app("wechat", "wx1111")
    await register_app("alipay", APPS["alipay"])
    on_wechat = await sign_in(client, sandbox, "wechat", "wx1111", "ann")
    await client.post(
        "/api/auth/phone",
        headers=bearer(on_wechat),
        json=await _phone_body(sandbox, "wechat", "ann"),
    )
    on_alipay = await sign_in(client, sandbox, "alipay", APPS["alipay"], "ann")
    return on_wechat, on_alipay


async def _merge_with_her_phone(
    client: httpx.AsyncClient, sandbox: SandboxClient, on_alipay: dict[str, Any]
) -> httpx.Response:
    """Ann binds on Alipay the phone her WeChat account holds, and accepts the merge."""
    taken = await client.post(
        "/api/auth/phone",
        headers=bearer(on_alipay),
        json=await _phone_body(sandbox, "alipay", "ann"),
    )
    assert (taken.status_code, taken.json()["code"]) == (409, "users.phone_taken")
    return await client.post(
        "/api/auth/merge",
        headers=bearer(on_alipay),
        json={"merge_token": taken.json()["details"]["merge_token"]},
    )


@pytest.mark.parametrize("platform", sorted(APPS))
async def test_a_verified_phone_is_bound_sealed_and_shown_masked(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
    platform: str,
) -> None:
    await register_app(platform, APPS[platform])
    session = await sign_in(client, sandbox, platform, APPS[platform], "ann")
    answer = await client.post(
        "/api/auth/phone", headers=bearer(session), json=await _phone_body(sandbox, platform, "ann")
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["phone"] == "138****8000"
    sealed, digest = await services.db.fetch_one("SELECT phone, phone_hash FROM users")
    assert PHONE not in sealed
    assert PHONE not in digest
    assert services.vault.keyed_hash("+86" + PHONE, "phone") == digest
    assert PHONE not in (await client.get("/api/auth/me", headers=bearer(session))).text


async def test_wechats_current_flow_trades_a_phone_code_with_the_apps_access_token(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
) -> None:
    await register_app("wechat", "wx1111")
    session = await sign_in(client, sandbox, "wechat", "wx1111", "ann")
    code = await sandbox.phone_code("wx1111", "ann", PHONE)
    answer = await client.post("/api/auth/phone", headers=bearer(session), json={"code": code})
    assert answer.status_code == 200, answer.text
    reused = await client.post("/api/auth/phone", headers=bearer(session), json={"code": code})
    assert reused.status_code == 400
    second = await client.post(
        "/api/auth/phone",
        headers=bearer(session),
        json={"code": await sandbox.phone_code("wx1111", "ann", PHONE)},
    )
    assert second.status_code == 200
    calls = await sandbox.calls()
    assert calls["wechat"]["/cgi-bin/stable_token"] == 1  # the token is cached between calls


async def test_tampered_or_foreign_encrypted_data_is_refused_and_nothing_is_bound(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
) -> None:
    await register_app("wechat", "wx1111")
    await register_app("wechat", "wx9999")
    session = await sign_in(client, sandbox, "wechat", "wx1111", "ann")
    good = await _phone_body(sandbox, "wechat", "ann")
    tampered = {**good, "encrypted_data": good["encrypted_data"][:-8] + "AAAAAAA="}
    answer = await client.post("/api/auth/phone", headers=bearer(session), json=tampered)
    assert (answer.status_code, answer.json()["code"]) == (400, "auth.invalid_encrypted_data")
    await sign_in(client, sandbox, "wechat", "wx9999", "ann")
    foreign = await sandbox.encrypted_data("wechat", "wx9999", "ann", {"phoneNumber": PHONE})
    answer = await client.post("/api/auth/phone", headers=bearer(session), json=foreign)
    assert answer.status_code == 400
    assert await services.db.fetch_value("SELECT COUNT(*) FROM users WHERE phone IS NOT NULL") == 0


async def test_a_phone_held_by_another_account_offers_an_explicit_merge(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    services: Services,
    admin: Any,
) -> None:
    await client.post(
        "/api/admin/collections",
        headers=admin.headers,
        json={"name": "notes", "rules": {"preset": "owner_only"}},
    )
    on_wechat, on_alipay = await ann_with_a_phone_on_wechat_then_on_alipay(
        client, sandbox, register_app
    )
    note = await client.post(
        "/api/collections/notes/records",
        headers=bearer(on_alipay),
        json={"text": "written on alipay"},
    )
    assert on_alipay["user"]["id"] != on_wechat["user"]["id"]

    taken = await client.post(
        "/api/auth/phone",
        headers=bearer(on_alipay),
        json=await _phone_body(sandbox, "alipay", "ann"),
    )
    assert (taken.status_code, taken.json()["code"]) == (409, "users.phone_taken")
    assert await services.db.fetch_value("SELECT COUNT(*) FROM users") == 2  # nothing merged yet

    merge_token = taken.json()["details"]["merge_token"]
    merged = await client.post(
        "/api/auth/merge", headers=bearer(on_alipay), json={"merge_token": merge_token}
    )
    assert merged.status_code == 200, merged.text
    survivor = merged.json()
    assert survivor["user"]["id"] == on_wechat["user"]["id"]
    assert (await client.get("/api/auth/me", headers=bearer(on_alipay))).status_code == 401
    mine = await client.get(
        f"/api/collections/notes/records/{note.json()['_id']}", headers=bearer(survivor)
    )
    assert mine.json()["_owner"] == on_wechat["user"]["id"]
    again = await sign_in(client, sandbox, "alipay", APPS["alipay"], "ann")
    assert again["user"]["id"] == on_wechat["user"]["id"]


async def test_a_merge_token_works_only_for_the_account_it_was_issued_to(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
) -> None:
    await register_app("wechat", "wx1111")
    ann = await sign_in(client, sandbox, "wechat", "wx1111", "ann")
    bob = await sign_in(client, sandbox, "wechat", "wx1111", "bob")
    for body in (
        {"merge_token": "forged.token"},
        {"merge_token": "forged.签名"},
        {"merge_token": 5},
        {},
    ):
        answer = await client.post("/api/auth/merge", headers=bearer(bob), json=body)
        assert (answer.status_code, answer.json()["code"]) == (400, "users.invalid_merge")
    assert (await client.get("/api/auth/me", headers=bearer(ann))).status_code == 200


async def test_an_access_token_revoked_at_the_platform_is_replaced_once_and_the_call_retried(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
) -> None:
    await register_app("wechat", "wx1111", secret="s3cret")
    session = await sign_in(client, sandbox, "wechat", "wx1111", "ann")
    first = await client.post(
        "/api/auth/phone",
        headers=bearer(session),
        json={"code": await sandbox.phone_code("wx1111", "ann", PHONE)},
    )
    assert first.status_code == 200
    async with httpx.AsyncClient(base_url=sandbox.url) as platform:  # someone forces a new one
        forced = await platform.post(
            "/wechat/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": "wx1111",
                "secret": "s3cret",
                "force_refresh": True,
            },
        )
        assert "access_token" in forced.json()
    second = await client.post(
        "/api/auth/phone",
        headers=bearer(session),
        json={"code": await sandbox.phone_code("wx1111", "ann", PHONE)},
    )
    assert second.status_code == 200, second.text
    calls = await sandbox.calls()
    assert calls["wechat"]["/wxa/business/getuserphonenumber"] == 3  # one refused, retried once


async def test_an_admin_finds_a_user_by_phone_without_decrypting_rows(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Any,
) -> None:
    await register_app("wechat", "wx1111")
    session = await sign_in(client, sandbox, "wechat", "wx1111", "ann")
    await client.post(
        "/api/auth/phone", headers=bearer(session), json=await _phone_body(sandbox, "wechat", "ann")
    )
    for written in (PHONE, "+86" + PHONE, "86" + PHONE):
        found = await client.get(
            "/api/admin/users", headers=admin.headers, params={"phone": written}
        )
        assert [u["id"] for u in found.json()["items"]] == [session["user"]["id"]], written
    nobody = await client.get(
        "/api/admin/users", headers=admin.headers, params={"phone": "13900000000"}
    )
    assert nobody.json()["items"] == []


async def test_roles_merged_into_an_account_void_its_older_tokens(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Any,
) -> None:
    on_wechat, on_alipay = await ann_with_a_phone_on_wechat_then_on_alipay(
        client, sandbox, register_app
    )
    await client.patch(
        f"/api/admin/users/{on_alipay['user']['id']}",
        headers=admin.headers,
        json={"roles": ["vip"]},
    )
    on_alipay = await sign_in(client, sandbox, "alipay", APPS["alipay"], "ann")  # now a vip
    merged = await _merge_with_her_phone(client, sandbox, on_alipay)
    assert merged.json()["user"]["roles"] == ["vip"]
    me = await client.get("/api/auth/me", headers=bearer(merged.json()))
    assert me.json()["roles"] == ["vip"]
    older = await client.get("/api/auth/me", headers=bearer(on_wechat))  # claims no roles
    assert (older.status_code, older.json()["code"]) == (401, "auth.token_revoked")


async def test_a_merged_account_shows_the_identities_of_both_platforms(
    client: httpx.AsyncClient,
    sandbox: SandboxClient,
    register_app: RegisterApp,
    admin: Any,
) -> None:
    on_wechat, on_alipay = await ann_with_a_phone_on_wechat_then_on_alipay(
        client, sandbox, register_app
    )
    alone = await client.get("/api/auth/me", headers=bearer(on_wechat))
    assert [i["platform"] for i in alone.json()["identities"]] == ["wechat"]
    merged = await _merge_with_her_phone(client, sandbox, on_alipay)
    survivor = merged.json()["user"]["id"]

    expected = [session["identity"] for session in (on_wechat, on_alipay)]
    me = await client.get("/api/auth/me", headers=bearer(merged.json()))
    one = await client.get(f"/api/admin/users/{survivor}", headers=admin.headers)
    listed = await client.get("/api/admin/users", headers=admin.headers)
    (in_list,) = [user for user in listed.json()["items"] if user["id"] == survivor]
    for shown in (me.json(), one.json(), in_list):
        assert shown["identities"] == expected
    for answer in (me, one, listed):
        assert "session_key" not in answer.text


async def test_every_answer_with_the_signed_in_user_lists_its_identities_as_me_does(
    client: httpx.AsyncClient, sandbox: SandboxClient, register_app: RegisterApp
) -> None:
    on_wechat, on_alipay = await ann_with_a_phone_on_wechat_then_on_alipay(
        client, sandbox, register_app
    )
    raw = orjson.dumps({"nickName": "Ann"}).decode()
    signed = {
        "raw_data": raw,
        "signature": await sandbox.raw_data_signature("wechat", "wx1111", "ann", raw),
    }
    profile = await client.post("/api/auth/profile", headers=bearer(on_wechat), json=signed)
    phone = await client.post(
        "/api/auth/phone",
        headers=bearer(on_wechat),
        json=await _phone_body(sandbox, "wechat", "ann"),  # her own number again
    )
    me = (await client.get("/api/auth/me", headers=bearer(on_wechat))).json()
    assert me["identities"] == [on_wechat["identity"]]
    for shown in (on_wechat["user"], profile.json(), phone.json()):
        assert shown["identities"] == me["identities"], shown
    assert on_alipay["user"]["identities"] == [on_alipay["identity"]]
    merged = await _merge_with_her_phone(client, sandbox, on_alipay)
    survivor = (await client.get("/api/auth/me", headers=bearer(merged.json()))).json()
    both = [on_wechat["identity"], on_alipay["identity"]]
    assert merged.json()["user"]["identities"] == survivor["identities"] == both

    document = (await client.get("/api/openapi.json")).json()["paths"]
    answers = {
        "/api/auth/{platform}/login": on_alipay,
        "/api/auth/profile": profile.json(),
        "/api/auth/phone": phone.json(),
        "/api/auth/merge": merged.json(),
    }
    for path, answer in answers.items():
        described = document[path]["post"]["responses"]["200"]["content"]["application/json"]
        schema = described["schema"]
        assert list(OAS31Validator(schema).iter_errors(answer)) == [], path
        user = (
            schema
            if path in ("/api/auth/profile", "/api/auth/phone")
            else (schema["properties"]["user"])
        )
        assert "identities" in user["required"], path

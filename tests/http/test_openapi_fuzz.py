"""Schemathesis drives every operation of /api/openapi.json against `minibase serve --dev` (the
platforms' sandbox in its process, so no call leaves the machine): the server never answers
5xx, and every answer keeps the document's word (status, media type, body schema, headers);
what the document calls valid is accepted, what it calls invalid is refused.

Bounded and reproducible: a fixed seed, derandomized generation and a fixed number of examples
per operation, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import schemathesis
from schemathesis import Case
from schemathesis.core.parameters import ParameterLocation
from tests.e2e.conftest import (
    ADMIN_PW,
    RunningServer,
    admin_headers,
    start_server,
    stop_server,
)

from minibase.app import endpoints
from minibase.http.openapi import build_openapi
from minibase.store.collections import parse_definition
from minibase.testing import postgres
from minibase.testing.plugin import chosen_backends

# One worker runs every operation, in the file's order: the examples hypothesis draws for an
# operation depend on what ran before it in the process, so any other split is not reproducible.
pytestmark = pytest.mark.xdist_group("openapi_fuzz")

APPID = "wxfuzz"
NOTES = {
    "name": "notes",
    "fields": {
        "title": {"type": "string", "required": True, "max": 80},
        "stars": {"type": "integer", "min": 0, "max": 5},
        "done": {"type": "boolean"},
    },
    "additional": False,
    "rules": {"preset": "public_read_owner_write"},
}
# What schemathesis counts as accepting a request the document calls valid.
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429"]
# Operations whose input carries a meaning no JSON Schema states: for them a request of the
# right shape may still be refused with a 400 saying what is wrong. Every other operation's
# document states all the bounds its server keeps.
MEANING = {
    "platform_login": "a login code is one the platform issued",
    "phone": "a phone code or sealed data is the platform's",
    "merge": "a merge token is one a 409 handed out",
    "list_users_route": "phone, openid and unionid are three searches: one at a time",
    "platform_profile": "signed or sealed user info is the platform's",
    "create_app_route": "secrets are real keys (PEM RSA, base64 AES)",
    "patch_app_route": "secrets are real keys (PEM RSA, base64 AES)",
    "create_merchant": "keys are real RSA keys and certificates",
    "patch_merchant": "keys are real RSA keys and certificates",
    "create_collection_route": "fields, indexes and rules are a definition language",
    "patch_collection": "fields, indexes and rules are a definition language",
    "put_collection": "fields, indexes and rules are a definition language",
    "apply_route": "fields, indexes and rules are a definition language",
    "list_route": "filter is the JSON filter language; sort names a field once; expand"
    " names reference fields and back-relations",
    "list_route_notes": "filter is the JSON filter language; sort names a field once; expand"
    " names reference fields and back-relations",
    "get_route": "expand names reference fields and back-relations",
    "get_route_notes": "expand names reference fields and back-relations",
    "bulk_update_route": "filter is the JSON filter language, update its operators",
    "patch_route": "an update is operators ($set ...) or fields, not both; paths are fields'",
    "patch_route_notes": "an update is operators ($set ...) or fields, not both; paths are fields'",
    "bulk_delete_route": "filter is the JSON filter language",
    "make_qrcode": "the page is one the app published",
    "make_url_scheme": "the page is one the app published; expire_time is from now",
    "make_url_link": "the page is one the app published; expire_time is from now",
    "check_text": "user and appid are for admins: a user sends neither",
    "check_media": "user and appid are for admins: a user sends neither",
    "queue_message": "the user signed in through the platform the message goes by",
    "place_order": "amount is required unless a @price hook prices the product",
}
CONFIG = {
    "seed": 20260312,
    "generation": {
        # no string a client sends may hold NUL (request.nul_character, tested on its own)
        "allow-x00": False,
        "max-examples": 5,
        "deterministic": True,
        "database": "none",
    },
    # Values only from the document, none learned from answers: ids drawn at random never
    # name the seeded app, user or collection, so no operation undoes another's setup.
    "phases": {
        "coverage": {"extra-data-sources": {"responses": False}},
        # and none guessed from error messages: the document alone says what is valid
        "fuzzing": {
            "extra-data-sources": {"responses": False},
            "error-feedback": {"enabled": False},
        },
        "stateful": {"enabled": False},
    },
    "suppress-health-check": ["all"],
    "request-timeout": 10,
    "operations": [
        {
            "include-operation-id": sorted(MEANING),
            "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "400"]}},
        },
        {
            # --dev makes up a merchant's missing keys (the sandbox's), which production requires
            "include-operation-id": "create_merchant",
            "checks": {"negative_data_rejection": {"enabled": False}},
        },
    ],
}
# (METHOD, path) -> who may call it, from the routes' own declarations
ACCESS = {(e.method, e.path): e.access for e in endpoints()}
# Operations that end the session of the admin token they are sent with: each gets a token of
# its own, so that the operations after them still have a working admin.
SIGNS_OUT = {("POST", "/api/admin/logout")}


@dataclass(frozen=True)
class Target:
    server: RunningServer
    admin: dict[str, str]
    user: dict[str, str]

    def headers_for(self, case: Case) -> dict[str, str]:
        if case.meta is not None and case.meta.is_negative_at(ParameterLocation.HEADER):
            return {}  # its headers are the test (a missing or malformed Authorization): as made
        access = ACCESS.get((case.method.upper(), case.path), "optional")
        if (case.method.upper(), case.path) in SIGNS_OUT:
            return self.another_admin_sign_in()
        if access == "admin":
            return self.admin
        if access in ("user", "optional"):
            return self.user
        return {}

    def another_admin_sign_in(self) -> dict[str, str]:
        body = {"email": "me@example.com", "password": ADMIN_PW}
        signed_in = httpx.post(f"{self.server.url}/api/admin/login", json=body, timeout=10)
        return {"Authorization": f"Bearer {signed_in.raise_for_status().json()['token']}"}


def _seed(url: str, admin: dict[str, str]) -> dict[str, str]:
    """An app, a signed-in WeChat user, a merchant and a collection: every operation reachable."""
    with httpx.Client(base_url=url, timeout=10) as http:
        http.post("/api/admin/apps", json={"platform": "wechat", "appid": APPID}, headers=admin)
        http.post(
            "/api/admin/pay/merchants",
            json={"mchid": "1900000109", "appids": [APPID]},
            headers=admin,
        ).raise_for_status()
        http.post("/api/admin/collections", json=NOTES, headers=admin).raise_for_status()
        code = http.post(
            "/_sandbox/control/login-code",
            json={"platform": "wechat", "appid": APPID, "person": "ann"},
        ).json()["code"]
        session = http.post("/api/auth/wechat/login", json={"appid": APPID, "code": code})
        session.raise_for_status()
        user = {"Authorization": f"Bearer {session.json()['access_token']}"}
        http.post(
            "/api/collections/notes/records", json={"title": "first"}, headers=user
        ).raise_for_status()
        return user


@pytest.fixture(scope="module", params=chosen_backends())
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """The server on each engine: what reaches storage is refused alike (NUL, sizes, types)."""
    cwd: Path = tmp_path_factory.mktemp("fuzz")
    database = None
    if request.param == "postgres":
        request.getfixturevalue("_postgres_template")
        database = asyncio.run(postgres.clone_database())
        # the server and the CLI that creates its admin both read it
        (cwd / "minibase.toml").write_text(
            f'[minibase]\ndatabase_url = "{postgres.url_for(database)}"\n'
        )
    server = start_server(cwd, "--dev")
    try:
        admin = admin_headers(server)
        yield Target(server, admin, _seed(server.url, admin))
    finally:
        stop_server(server)
        if database is not None:
            asyncio.run(postgres.drop_database(database))


# The document the seeded server serves (checked below), known here so that pytest gets one
# test per operation and xdist spreads them.
DOCUMENT = build_openapi(endpoints(), [parse_definition(NOTES, collection_id="notes")])
api = schemathesis.openapi.from_dict(DOCUMENT, config=schemathesis.Config.from_dict(CONFIG))


def test_the_fuzzed_document_is_the_one_the_server_serves(target: Target) -> None:
    served = httpx.get(target.server.url + "/api/openapi.json").json()
    assert served == DOCUMENT


@api.parametrize()
def test_every_operation_answers_as_its_document_says(case: Case, target: Target) -> None:
    case.call_and_validate(base_url=target.server.url, headers=target.headers_for(case))

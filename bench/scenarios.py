"""The four scenarios: what each sends (the same for both servers, in each one's API), and the
checks that its answers are right before any load is put on it."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
import orjson
from dataset import Dataset, new_record
from loadgen import Load

LIST_ABOVE = 500
PAGE = 20


class Target(Protocol):
    name: str
    label: str
    id_key: str  # the record id's key in a response: "_id" or "id"
    list_query: dict[str, str]  # limit 20, score > 500, sort -score, in this server's syntax
    base_url: str
    workdir: Path
    client: httpx.Client
    user_id: str
    user_auth: str  # the whole Authorization header value of the bench user
    ids: dict[str, list[str]]  # collection -> seeded record ids


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    collection: str
    in_target: bool  # one of the three the issue sets a target for


SCENARIOS = (
    Scenario("get_owned", "get by id, user token, owner rule", "priv", True),
    Scenario("get_public", "get by id, public rule (reference)", "posts", False),
    Scenario("list_owned", "list 20, score > 500, sort -score, owner rule", "priv", True),
    Scenario("create_owned", "create, user token, signed-in rule", "priv", True),
)


class CheckFailed(AssertionError):
    """A scenario's endpoint answered wrongly: loading it would measure nothing useful."""


def _records_path(scenario: Scenario) -> str:
    return f"/api/collections/{scenario.collection}/records"


def load_for(target: Target, scenario: Scenario) -> Load:
    path = _records_path(scenario)
    if scenario.key in ("get_owned", "get_public"):
        ids_file = target.workdir / f"ids-{scenario.collection}.txt"
        ids_file.write_text("\n".join(target.ids[scenario.collection]) + "\n")
        auth = target.user_auth if scenario.key == "get_owned" else None
        return Load(target.base_url + path, "get_by_id.lua", auth, ids_file, path + "/")
    if scenario.key == "list_owned":
        url = f"{target.base_url}{path}?{urlencode(target.list_query)}"
        return Load(url, "list.lua", target.user_auth)
    if scenario.key == "create_owned":
        body = orjson.dumps(new_record(target.user_id)).decode()
        return Load(target.base_url + path, "create.lua", target.user_auth, body=body)
    raise ValueError(f"unknown scenario {scenario.key}")


# -- checks -------------------------------------------------------------------------------


def _expect(condition: bool, target: Target, scenario: Scenario, message: str) -> None:
    if not condition:
        raise CheckFailed(f"{target.label}, {scenario.key}: {message}")


def _get(target: Target, path: str, auth: str | None, **params: str) -> httpx.Response:
    headers = {"Authorization": auth} if auth else {}
    return target.client.get(path, headers=headers, params=params)


def check(target: Target, scenario: Scenario, dataset: Dataset) -> None:
    """Raise CheckFailed unless the scenario's request gives the right answer, and the rule is
    really in force (a caller without the token is refused or sees nothing)."""
    if scenario.key in ("get_owned", "get_public"):
        _check_get(target, scenario)
    elif scenario.key == "list_owned":
        _check_list(target, scenario, dataset)
    elif scenario.key == "create_owned":
        _check_create(target, scenario)
    else:
        raise ValueError(f"unknown scenario {scenario.key}")


def _check_get(target: Target, scenario: Scenario) -> None:
    ids = target.ids[scenario.collection]
    _expect(len(ids) > 0, target, scenario, "no records were seeded")
    owned = scenario.key == "get_owned"
    auth = target.user_auth if owned else None
    for record_id in random.Random(7).sample(ids, min(20, len(ids))):
        response = _get(target, f"{_records_path(scenario)}/{record_id}", auth)
        _expect(response.status_code == 200, target, scenario, f"status {response.status_code}")
        record = response.json()
        _expect(record.get(target.id_key) == record_id, target, scenario, f"got {record}")
        _expect(record.get("owner") == target.user_id, target, scenario, f"owner of {record}")
    if owned:
        anonymous = _get(target, f"{_records_path(scenario)}/{ids[0]}", None)
        _expect(
            anonymous.status_code in (401, 403, 404),
            target,
            scenario,
            f"the owner rule let an anonymous caller read a record ({anonymous.status_code})",
        )


def _check_list(target: Target, scenario: Scenario, dataset: Dataset) -> None:
    path = _records_path(scenario)
    response = _get(target, path, target.user_auth, **target.list_query)
    _expect(response.status_code == 200, target, scenario, f"status {response.status_code}")
    items: list[dict[str, Any]] = response.json()["items"]
    scores = [item.get("score") for item in items]
    expected = dataset.top_scores(LIST_ABOVE, PAGE)
    _expect(len(items) == PAGE, target, scenario, f"{len(items)} items, not {PAGE}")
    _expect(scores == expected, target, scenario, f"scores {scores}, expected {expected}")
    _expect(
        all(item.get("owner") == target.user_id for item in items),
        target,
        scenario,
        "an item of another owner",
    )
    anonymous = _get(target, path, None, **target.list_query)
    _expect(
        anonymous.status_code in (401, 403)
        or (anonymous.status_code == 200 and anonymous.json()["items"] == []),
        target,
        scenario,
        f"the owner rule let an anonymous caller list records ({anonymous.status_code})",
    )


def _check_create(target: Target, scenario: Scenario) -> None:
    path = _records_path(scenario)
    body = new_record(target.user_id)
    headers = {"Authorization": target.user_auth}
    response = target.client.post(path, json=body, headers=headers)
    _expect(response.status_code in (200, 201), target, scenario, f"status {response.status_code}")
    record = response.json()
    _expect(
        record.get("owner") == target.user_id and record.get("title") == body["title"],
        target,
        scenario,
        f"created {record}",
    )
    again = _get(target, f"{path}/{record[target.id_key]}", target.user_auth)
    _expect(again.status_code == 200, target, scenario, "the created record cannot be read")
    anonymous = target.client.post(path, json=body)
    _expect(
        anonymous.status_code in (400, 401, 403),
        target,
        scenario,
        f"the create rule let an anonymous caller create ({anonymous.status_code})",
    )

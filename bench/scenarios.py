"""The four scenarios: what each sends (the same to every server, in each one's API), and the
checks that its answers are right before any load is put on it.

With one user (the small dataset) every request is that user's; with many (the realistic one)
each request is a user's picked at random: for `get_owned` a record and its owner's token."""

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
from target import User

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
    users: list[User]  # users[i] is the dataset's owner i
    ids: dict[str, list[str]]  # collection -> seeded record ids, in the dataset's order


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    collection: str
    goal: float  # issue 19: minibase's req/s at least this many times PocketBase's

    @property
    def writes(self) -> bool:
        return self.key.startswith("create")


SCENARIOS = (
    Scenario("get_owned", "get by id, user token, owner rule", "priv", 2.0),
    Scenario("get_public", "get by id, public rule", "posts", 1.5),
    Scenario("list_owned", "list 20, score > 500, sort -score, owner rule", "priv", 2.0),
    Scenario("create_owned", "create, user token, signed-in rule", "priv", 2.0),
)


class CheckFailed(AssertionError):
    """A scenario's endpoint answered wrongly: loading it would measure nothing useful."""


def _records_path(scenario: Scenario) -> str:
    return f"/api/collections/{scenario.collection}/records"


def load_for(target: Target, scenario: Scenario, dataset: Dataset) -> Load:
    path = _records_path(scenario)
    url = target.base_url + path
    many = len(target.users) > 1
    users_file = _users_file(target) if many else None
    auth = None if many else target.users[0].auth
    if scenario.key in ("get_owned", "get_public"):
        ids = target.ids[scenario.collection]
        if scenario.key == "get_public":
            lines, users_file, auth = ids, None, None
        elif many:
            lines = [f"{i}\t{owner + 1}" for i, owner in zip(ids, dataset.owners, strict=True)]
        else:
            lines = ids
        ids_file = target.workdir / f"ids-{scenario.key}.txt"
        ids_file.write_text("\n".join(lines) + "\n")
        return Load(url, "get_by_id.lua", auth, users_file, ids_file, path + "/")
    if scenario.key == "list_owned":
        url += "?" + urlencode(target.list_query)
        return Load(url, "list.lua", auth, users_file)
    if scenario.key == "create_owned":
        owner = "@owner@" if many else target.users[0].id  # wrk/common.lua's OWNER
        body = orjson.dumps(new_record(owner)).decode()
        return Load(url, "create.lua", auth, users_file, body=body)
    raise ValueError(f"unknown scenario {scenario.key}")


def _users_file(target: Target) -> Path:
    """The users' Authorization values and ids, a line each, in owner order (for wrk)."""
    path = target.workdir / "users.txt"
    path.write_text("".join(f"{user.auth}\t{user.id}\n" for user in target.users))
    return path


# -- checks -------------------------------------------------------------------------------


def _expect(condition: bool, target: Target, scenario: Scenario, message: str) -> None:
    if not condition:
        raise CheckFailed(f"{target.label}, {scenario.key}: {message}")


def _get(target: Target, path: str, auth: str | None, **params: str) -> httpx.Response:
    headers = {"Authorization": auth} if auth else {}
    return target.client.get(path, headers=headers, params=params)


def check(target: Target, scenario: Scenario, dataset: Dataset) -> None:
    """Raise CheckFailed unless the scenario's request gives the right answer, and the rule is
    really in force (a caller without the token, or another user, is refused or sees nothing)."""
    if scenario.key in ("get_owned", "get_public"):
        _check_get(target, scenario, dataset)
    elif scenario.key == "list_owned":
        _check_list(target, scenario, dataset)
    elif scenario.key == "create_owned":
        _check_create(target, scenario)
    else:
        raise ValueError(f"unknown scenario {scenario.key}")


def _check_get(target: Target, scenario: Scenario, dataset: Dataset) -> None:
    ids = target.ids[scenario.collection]
    _expect(len(ids) > 0, target, scenario, "no records were seeded")
    owned = scenario.key == "get_owned"
    for i in random.Random(7).sample(range(len(ids)), min(20, len(ids))):
        path = f"{_records_path(scenario)}/{ids[i]}"
        owner = target.users[dataset.owners[i]]
        response = _get(target, path, owner.auth if owned else None)
        _expect(response.status_code == 200, target, scenario, f"status {response.status_code}")
        record = response.json()
        _expect(record.get(target.id_key) == ids[i], target, scenario, f"got {record}")
        _expect(record.get("owner") == owner.id, target, scenario, f"owner of {record}")
    if owned:
        path = f"{_records_path(scenario)}/{ids[0]}"
        anonymous = _get(target, path, None)
        _expect(
            anonymous.status_code in (401, 403, 404),
            target,
            scenario,
            f"the owner rule let an anonymous caller read a record ({anonymous.status_code})",
        )
        if len(target.users) > 1:
            other = target.users[(dataset.owners[0] + 1) % len(target.users)]
            answer = _get(target, path, other.auth)
            _expect(
                answer.status_code in (403, 404),
                target,
                scenario,
                f"the owner rule let another user read a record ({answer.status_code})",
            )


def _check_list(target: Target, scenario: Scenario, dataset: Dataset) -> None:
    path = _records_path(scenario)
    users = random.Random(7).sample(range(len(target.users)), min(3, len(target.users)))
    for owner in users:
        user = target.users[owner]
        response = _get(target, path, user.auth, **target.list_query)
        _expect(response.status_code == 200, target, scenario, f"status {response.status_code}")
        items: list[dict[str, Any]] = response.json()["items"]
        scores = [item.get("score") for item in items]
        expected = dataset.top_scores(LIST_ABOVE, PAGE, owner)
        _expect(len(items) == PAGE, target, scenario, f"{len(items)} items, not {PAGE}")
        _expect(scores == expected, target, scenario, f"scores {scores}, expected {expected}")
        _expect(
            all(item.get("owner") == user.id for item in items),
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
    user = random.Random(7).choice(target.users)
    body = new_record(user.id)
    headers = {"Authorization": user.auth}
    response = target.client.post(path, json=body, headers=headers)
    _expect(response.status_code in (200, 201), target, scenario, f"status {response.status_code}")
    record = response.json()
    _expect(
        record.get("owner") == user.id and record.get("title") == body["title"],
        target,
        scenario,
        f"created {record}",
    )
    again = _get(target, f"{path}/{record[target.id_key]}", user.auth)
    _expect(again.status_code == 200, target, scenario, "the created record cannot be read")
    anonymous = target.client.post(path, json=body)
    _expect(
        anonymous.status_code in (400, 401, 403),
        target,
        scenario,
        f"the create rule let an anonymous caller create ({anonymous.status_code})",
    )

"""Rule presets and how a collection's rule definition resolves to one rule per action."""

from __future__ import annotations

import re
from typing import Any

import pytest

from minibase.rules.binding import bind
from minibase.rules.conditions import FALSE, TRUE, Compare
from minibase.rules.expressions import parse_rule
from minibase.rules.presets import ACTIONS, ACTIONS_WITH_BODY, PRESETS, resolve_rules

OWNER = "doc._owner == auth.id"
SIGNED_IN = "auth.id != null"


@pytest.mark.parametrize(
    ("preset", "rules"),
    [
        (
            "public_read_owner_write",
            {"list": "true", "read": "true", "create": SIGNED_IN, "update": OWNER, "delete": OWNER},
        ),
        (
            "owner_only",
            {"list": OWNER, "read": OWNER, "create": SIGNED_IN, "update": OWNER, "delete": OWNER},
        ),
        (
            "public_read_admin_write",
            {"list": "true", "read": "true", "create": None, "update": None, "delete": None},
        ),
        (
            "admin_only",
            {"list": None, "read": None, "create": None, "update": None, "delete": None},
        ),
    ],
)
def test_each_preset_sets_a_rule_for_every_action(preset: str, rules: dict[str, Any]) -> None:
    assert dict(PRESETS[preset]) == rules
    assert resolve_rules({"preset": preset}) == rules


def test_presets_are_read_only() -> None:
    with pytest.raises(TypeError):
        PRESETS["owner_only"]["list"] = "true"  # type: ignore[index]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_rules_parse_for_their_actions(preset: str) -> None:
    for action, rule in PRESETS[preset].items():
        if rule is not None:
            parse_rule(rule, allow_body=action in ACTIONS_WITH_BODY)


def test_only_create_and_update_carry_a_request_body() -> None:
    assert ACTIONS == ("list", "read", "create", "update", "delete")
    assert frozenset({"create", "update"}) == ACTIONS_WITH_BODY


def test_owner_only_lets_owners_see_their_records_and_nobody_else() -> None:
    rule = parse_rule(resolve_rules({"preset": "owner_only"})["list"] or "")

    assert bind(rule, {"id": "alice"}, {}) == Compare("eq", ("_owner",), "alice")
    assert bind(rule, {"id": None}, {}) == FALSE


def test_only_signed_in_callers_create_under_public_read_owner_write() -> None:
    rule = parse_rule(PRESETS["public_read_owner_write"]["create"] or "")

    assert bind(rule, {"id": "alice"}, {}) == TRUE
    assert bind(rule, {"id": None}, {}) == FALSE


def test_explicit_actions_override_the_preset() -> None:
    locked = "doc._owner == auth.id && doc.locked != true"

    rules = resolve_rules({"preset": "owner_only", "update": locked, "delete": None})

    assert rules == {
        "list": OWNER,
        "read": OWNER,
        "create": SIGNED_IN,
        "update": locked,
        "delete": None,
    }


def test_without_a_preset_unnamed_actions_are_admin_only() -> None:
    assert resolve_rules({"list": "true"}) == {
        "list": "true",
        "read": None,
        "create": None,
        "update": None,
        "delete": None,
    }
    assert resolve_rules({}) == dict.fromkeys(ACTIONS)


def test_resolved_rules_are_a_fresh_dict_that_leaves_the_preset_alone() -> None:
    rules = resolve_rules({"preset": "owner_only"})
    rules["list"] = "true"

    assert PRESETS["owner_only"]["list"] == OWNER


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"preset": "public"}, "unknown preset 'public': use one of public_read_owner_write"),
        ({"preset": None}, "unknown preset None"),
        ({"preset": ["owner_only"]}, "unknown preset"),
        ({"lists": "true"}, "unknown rule key(s) 'lists': use 'preset' or an action"),
        ({"write": "true", "Read": None}, "unknown rule key(s) 'Read', 'write'"),
        ({"list": True}, "the list rule must be an expression string or null, not bool"),
        ({"preset": "owner_only", "update": 1}, "the update rule must be an expression string"),
        ({"delete": {"preset": "admin_only"}}, "not dict"),
    ],
)
def test_bad_definitions_are_rejected_with_a_clear_message(
    spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        resolve_rules(spec)


def test_a_definition_must_be_an_object() -> None:
    with pytest.raises(ValueError, match="rules must be an object, not list"):
        resolve_rules(["owner_only"])  # type: ignore[arg-type]

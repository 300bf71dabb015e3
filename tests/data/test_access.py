"""A collection's rule bound for a caller is kept for that caller's next request (the same
condition, whose SQL the compiler keeps too), and never handed to another caller, nor kept
where the request's body takes part, nor past a change of the rules."""

from __future__ import annotations

from minibase.auth.caller import Caller
from minibase.data.access import BOUND_RULES, rule_condition
from minibase.rules.conditions import TRUE
from minibase.store.collections import Collection, parse_definition
from minibase.store.dialect import SQLITE

RULES = {
    "read": "doc.owner == auth.id",
    "list": "doc.owner == auth.id || 'editor' in auth.roles",
    "create": "body.owner == auth.id",
    "update": "doc.owner == auth.id && body.owner == auth.id",
    "delete": None,
}


def notes(rules: dict[str, str | None] = RULES) -> Collection:
    definition = {"name": "notes", "fields": {"owner": {"type": "string"}}, "rules": rules}
    return parse_definition(definition, collection_id="c1")


def where(collection: Collection, caller: Caller, action: str) -> tuple[str, tuple[object, ...]]:
    compiled = collection.compiler(SQLITE).compile(rule_condition(caller, collection, action))
    return compiled.sql, tuple(compiled.params)


def test_the_same_caller_gets_the_rule_it_had_and_another_gets_its_own() -> None:
    collection = notes()
    ann, bob = Caller("user", "ann"), Caller("user", "bob")
    first = rule_condition(ann, collection, "read")
    again = rule_condition(Caller("user", "ann"), collection, "read")  # a later request
    assert again is first
    assert where(collection, ann, "read")[1] == ("ann",)
    assert where(collection, bob, "read")[1] == ("bob",)
    assert where(collection, ann, "read")[1] == ("ann",)


def test_roles_platform_and_app_are_part_of_who_calls() -> None:
    collection = notes()
    plain, editor = Caller("user", "ann"), Caller("user", "ann", roles=("editor",))
    assert rule_condition(editor, collection, "list") == TRUE
    assert rule_condition(plain, collection, "list") != TRUE


def test_a_rule_that_reads_the_body_is_bound_for_each_request() -> None:
    collection = notes()
    ann = Caller("user", "ann")
    assert rule_condition(ann, collection, "create", {"owner": "ann"}) == TRUE
    assert rule_condition(ann, collection, "create", {"owner": "bob"}) != TRUE
    assert collection.bound_rules == {}


def test_new_rules_are_a_new_collection_with_nothing_kept() -> None:
    ann = Caller("user", "ann")
    before = notes()
    rule_condition(ann, before, "read")
    after = notes({**RULES, "read": "true"})
    assert rule_condition(ann, after, "read") == TRUE


def test_what_is_kept_is_bounded() -> None:
    collection = notes()
    for number in range(BOUND_RULES + 10):
        rule_condition(Caller("user", f"user-{number}"), collection, "read")
    assert len(collection.bound_rules) <= BOUND_RULES

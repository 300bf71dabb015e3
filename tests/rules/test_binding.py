"""Binding rules to a request: what each comparison becomes for a given caller and body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from minibase.rules.binding import bind
from minibase.rules.conditions import (
    FALSE,
    MISSING,
    TRUE,
    And,
    Compare,
    Condition,
    Contains,
    In,
    Not,
    Or,
    evaluate,
    resolve,
    scalar_kind,
)
from minibase.rules.expressions import Rule, parse_rule

ANONYMOUS: dict[str, Any] = {"id": None, "roles": [], "platform": None, "appid": None}
ALICE: dict[str, Any] = {"id": "alice", "roles": [], "platform": "wechat", "appid": "wx1"}
EDITOR: dict[str, Any] = {**ALICE, "id": "ed", "roles": ["editor", "reviewer"]}


def bound(text: str, auth: dict[str, Any] = ALICE, body: dict[str, Any] | None = None) -> Condition:
    return bind(parse_rule(text), auth, body or {})


# --- ownership and null safety ----------------------------------------------------------------


def test_owner_rule_becomes_a_field_comparison_for_a_signed_in_caller() -> None:
    assert bound("doc._owner == auth.id") == Compare("eq", ("_owner",), "alice")


def test_anonymous_caller_never_matches_ownerless_records() -> None:
    condition = bound("doc._owner == auth.id", ANONYMOUS)

    assert condition == FALSE
    assert not evaluate(condition, {})
    assert not evaluate(condition, {"_owner": None})


def test_missing_auth_keys_count_as_anonymous() -> None:
    assert bound("doc._owner == auth.id", {}) == FALSE
    assert bound("'editor' in auth.roles", {}) == FALSE


def test_auth_id_compared_with_literal_null_tells_who_is_signed_in() -> None:
    assert bound("auth.id == null", ANONYMOUS) == TRUE
    assert bound("auth.id != null", ANONYMOUS) == FALSE
    assert bound("auth.id == null", ALICE) == FALSE
    assert bound("auth.id != null", ALICE) == TRUE
    assert bound("null == auth.id", ANONYMOUS) == TRUE


def test_not_equal_is_exactly_the_negation_of_equal() -> None:
    assert bound("doc._owner != auth.id", ALICE) == Not(Compare("eq", ("_owner",), "alice"))
    # Null safety makes `==` false for an anonymous caller, so `!=` is true for every record.
    assert bound("doc._owner != auth.id", ANONYMOUS) == TRUE


def test_two_absent_request_values_are_not_equal() -> None:
    assert bound("auth.id == body.owner", ANONYMOUS, {}) == FALSE
    assert bound("body.a == body.b", ANONYMOUS, {"a": None, "b": None}) == FALSE


def test_a_record_field_equals_literal_null_when_null_or_missing() -> None:
    condition = bound("doc.deleted_at == null")

    assert condition == Compare("eq", ("deleted_at",), None)
    assert evaluate(condition, {})
    assert evaluate(condition, {"deleted_at": None})


def test_a_missing_body_field_is_null() -> None:
    assert bound("body.title == null", body={}) == TRUE
    assert bound("body.title == null", body={"title": None}) == TRUE
    assert bound("doc.title == body.title", body={}) == FALSE
    assert bound("doc.title == body.title", body={"title": "hi"}) == Compare("eq", ("title",), "hi")


def test_body_paths_walk_objects_and_arrays() -> None:
    body = {"items": [{"sku": "a1"}, {"sku": "b2"}]}

    assert bound("doc.sku == body.items.1.sku", body=body) == Compare("eq", ("sku",), "b2")
    assert bound("doc.sku == body.items.5.sku", body=body) == FALSE


def test_objects_and_lists_from_the_request_equal_nothing() -> None:
    body = {"obj": {"a": 1}, "list": [1]}

    assert bound("doc.a == body.obj", body=body) == FALSE
    assert bound("doc.a == body.list", body=body) == FALSE
    assert bound("body.list == body.list", body=body) == FALSE
    assert bound("body.obj == null", body=body) == FALSE
    assert bound("doc.a != body.obj", body=body) == TRUE


def test_known_values_compare_like_the_store_does() -> None:
    assert bound("auth.platform == 'wechat'") == TRUE
    assert bound("auth.platform == 'alipay'") == FALSE
    assert bound("body.n == 1", body={"n": 1.0}) == TRUE
    assert bound("body.flag == 1", body={"flag": True}) == FALSE
    assert bound("body.n == '1'", body={"n": 1}) == FALSE
    assert bound("null == null") == TRUE
    assert bound("1 == 1") == TRUE


# --- ordering ---------------------------------------------------------------------------------


def test_ordering_a_field_keeps_the_field_first() -> None:
    assert bound("doc.price < 100") == Compare("lt", ("price",), 100)
    assert bound("doc.price <= body.max", body={"max": 5}) == Compare("lte", ("price",), 5)


@pytest.mark.parametrize(
    ("text", "op"),
    [("5 < doc.x", "gt"), ("5 <= doc.x", "gte"), ("5 > doc.x", "lt"), ("5 >= doc.x", "lte")],
)
def test_a_field_on_the_right_flips_the_operator(text: str, op: str) -> None:
    assert bound(text) == Compare(op, ("x",), 5)  # type: ignore[arg-type]


def test_ordering_known_values_is_decided_at_bind_time() -> None:
    assert bound("body.age >= 18", body={"age": 20}) == TRUE
    assert bound("body.age >= 18", body={"age": 17.5}) == FALSE
    assert bound("auth.appid < 'wx2'") == TRUE
    assert bound("body.age >= 18", body={"age": "20"}) == FALSE


@pytest.mark.parametrize("value", [None, True, "", [1], {"a": 1}])
def test_ordering_against_a_non_number_request_value_is_false(value: Any) -> None:
    expected = FALSE if not isinstance(value, str) else Compare("gt", ("x",), "")
    assert bound("doc.x > body.v", body={"v": value}) == expected
    assert bound("body.v > 0", body={"v": value}) == FALSE


# --- membership -------------------------------------------------------------------------------


def test_field_in_a_literal_list_is_in() -> None:
    assert bound("doc.status in ['draft', 'published', null]") == In(
        ("status",), ("draft", "published", None)
    )
    assert bound("doc.status in []") == FALSE


def test_field_in_auth_roles_uses_the_callers_roles() -> None:
    assert bound("doc.team in auth.roles", EDITOR) == In(("team",), ("editor", "reviewer"))
    assert bound("doc.team in auth.roles", ANONYMOUS) == FALSE


def test_field_in_a_body_list_keeps_only_values_a_field_can_equal() -> None:
    body = {"ids": ["a", None, {"x": 1}, [2], 3]}

    assert bound("doc.id in body.ids", body=body) == In(("id",), ("a", 3))
    assert bound("doc.id in body.ids", body={"ids": "a"}) == FALSE
    assert bound("doc.id in body.ids", body={}) == FALSE


def test_value_in_a_record_array_is_contains() -> None:
    assert bound("auth.id in doc.members") == Contains(("members",), "alice")
    assert bound("null in doc.members") == Contains(("members",), None)
    assert bound("auth.id in doc.members", ANONYMOUS) == FALSE
    assert bound("body.tag in doc.tags", body={"tag": ["x"]}) == FALSE


def test_known_value_in_known_list_is_decided_at_bind_time() -> None:
    assert bound("'editor' in auth.roles", EDITOR) == TRUE
    assert bound("'editor' in auth.roles", ALICE) == FALSE
    assert bound("auth.platform in ['wechat', 'qq']") == TRUE
    assert bound("1 in body.ns", body={"ns": [1.0]}) == TRUE
    assert bound("true in body.ns", body={"ns": [1]}) == FALSE


def test_membership_keeps_the_null_safety_of_equality() -> None:
    # The rule's own null matches an absent value; two absent values never match.
    assert bound("auth.id in [null, 'root']", ANONYMOUS) == TRUE
    assert bound("auth.id in body.allowed", ANONYMOUS, {"allowed": [None]}) == FALSE
    assert bound("null in body.allowed", body={"allowed": [None]}) == TRUE


def test_not_in_is_the_negation_of_in() -> None:
    assert bound("doc.status not in ['draft']") == Not(In(("status",), ("draft",)))
    assert bound("'banned' not in auth.roles", EDITOR) == TRUE
    assert bound("auth.id not in doc.blocked") == Not(Contains(("blocked",), "alice"))
    assert bound("auth.id not in doc.blocked", ANONYMOUS) == TRUE


# --- bare values and logic --------------------------------------------------------------------


def test_a_field_alone_must_be_true() -> None:
    condition = bound("doc.published")

    assert condition == Compare("eq", ("published",), True)
    assert evaluate(condition, {"published": True})
    assert not evaluate(condition, {"published": 1})


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, TRUE), (False, FALSE), (1, FALSE), ("true", FALSE), (None, FALSE)],
)
def test_a_body_value_alone_counts_only_when_it_is_true(value: Any, expected: Condition) -> None:
    assert bound("body.draft", body={"draft": value}) == expected


def test_literal_true_and_false_are_constants() -> None:
    assert bound("true") == TRUE
    assert bound("false") == FALSE
    assert bound("!false") == TRUE


def test_constants_fold_through_and_or_not() -> None:
    rule = "'admin' in auth.roles || doc._owner == auth.id"

    assert bound(rule, {**ALICE, "roles": ["admin"]}) == TRUE
    assert bound(rule, ALICE) == Compare("eq", ("_owner",), "alice")
    assert bound(rule, ANONYMOUS) == FALSE
    assert bound("auth.id != null && doc.public") == Compare("eq", ("public",), True)
    assert bound("!(auth.id == null || doc.locked)") == Not(Compare("eq", ("locked",), True))


def test_and_or_keep_their_structure_over_fields() -> None:
    assert bound("doc.a == 1 && (doc.b == 2 || !doc.c)") == And(
        (
            Compare("eq", ("a",), 1),
            Or((Compare("eq", ("b",), 2), Not(Compare("eq", ("c",), True)))),
        )
    )


def test_binding_uses_the_parsed_tree_not_the_source_text() -> None:
    parsed = parse_rule("doc._owner == auth.id")
    rule = Rule("this text is never parsed again", parsed.expression)

    assert bind(rule, ALICE, {}) == Compare("eq", ("_owner",), "alice")


def test_one_rule_binds_differently_for_each_request() -> None:
    rule = parse_rule("doc._owner == auth.id || body.public")

    assert bind(rule, ALICE, {"public": True}) == TRUE
    assert bind(rule, EDITOR, {}) == Compare("eq", ("_owner",), "ed")
    assert bind(rule, ANONYMOUS, {}) == FALSE


# --- binding agrees with a direct interpreter of the documented semantics ---------------------
#
# Random rules are built as small trees, rendered to text, parsed and bound; a reference
# interpreter evaluates the same tree directly on (auth, body, doc). Every value carries where it
# came from: "literal" (written in the rule), "request" (auth.*, body.*) or "doc" (the record).


@dataclass(frozen=True)
class Value:
    text: str
    origin: str  # "literal" | "request" | "doc"
    root: str = ""
    fields: tuple[str, ...] = ()
    literal: Any = None


@dataclass(frozen=True)
class Compared:
    op: str
    left: Value
    right: Value


@dataclass(frozen=True)
class Alone:
    value: Value


@dataclass(frozen=True)
class NotNode:
    item: Node


@dataclass(frozen=True)
class AndNode:
    left: Node
    right: Node


@dataclass(frozen=True)
class OrNode:
    left: Node
    right: Node


@dataclass(frozen=True)
class Group:
    item: Node


Node = Compared | Alone | NotNode | AndNode | OrNode | Group


def render_string(text: str, quote: str) -> str:
    escaped = text.replace("\\", "\\\\").replace(quote, "\\" + quote)
    return quote + escaped.replace("\n", "\\n").replace("\t", "\\t") + quote


def literal(value: Any, quote: str = "'") -> Value:
    if isinstance(value, str):
        text = render_string(value, quote)
    elif isinstance(value, bool) or value is None:
        text = {None: "null", True: "true", False: "false"}[value]
    else:
        text = repr(value)
    return Value(text, "literal", literal=value)


def path(text: str) -> Value:
    root, *fields = text.split(".")
    return Value(text, "doc" if root == "doc" else "request", root, tuple(fields))


def list_literal(values: list[Any]) -> Value:
    text = "[" + ", ".join(literal(value).text for value in values) + "]"
    return Value(text, "literal", literal=list(values))


# Small pools, so that rule values, request values and record values often collide.
SCALARS = [None, True, False, 0, 1, 2.5, "u1", "x", "it's", 'say "hi"', "tab\there"]
ORDERABLE = [0, 1, 2.5, "u1", "x"]
FIELDS = ["a", "tags", "a.b", "tags.0"]

doc_paths = st.sampled_from(FIELDS).map(lambda field: path("doc." + field))
body_paths = st.sampled_from(FIELDS).map(lambda field: path("body." + field))
auth_values = st.sampled_from(["auth.id", "auth.platform", "auth.appid"]).map(path)
literals = st.builds(literal, st.sampled_from(SCALARS), st.sampled_from(["'", '"']))
orderable = st.builds(literal, st.sampled_from(ORDERABLE))
values = st.one_of(literals, auth_values, body_paths)
ordered_values = st.one_of(orderable, auth_values, body_paths)
lists = st.one_of(
    st.lists(st.sampled_from(SCALARS), max_size=3).map(list_literal),
    st.just(path("auth.roles")),
    body_paths,
)


def either_way(field: st.SearchStrategy[Value], other: st.SearchStrategy[Value]) -> Any:
    return st.one_of(st.tuples(field, other), st.tuples(other, field), st.tuples(other, other))


def compared(ops: list[str], sides: st.SearchStrategy[tuple[Value, Value]]) -> Any:
    return st.builds(lambda op, pair: Compared(op, *pair), st.sampled_from(ops), sides)


comparisons = st.one_of(
    compared(["==", "!="], either_way(doc_paths, values)),
    compared(["<", "<=", ">", ">="], either_way(doc_paths, ordered_values)),
    compared(["in", "not in"], st.tuples(st.one_of(doc_paths, values), lists)),
    compared(["in", "not in"], st.tuples(values, doc_paths)),
)
alone = st.one_of(doc_paths, body_paths, st.builds(literal, st.booleans())).map(Alone)
rules = st.recursive(
    st.one_of(comparisons, alone),
    lambda items: st.one_of(
        st.builds(NotNode, items),
        st.builds(AndNode, items, items),
        st.builds(OrNode, items, items),
        st.builds(Group, items),
    ),
    max_leaves=8,
)

json_values = st.recursive(
    st.sampled_from([None, True, False, 0, 1, 1.0, 2.5, "u1", "x"]),
    lambda items: st.one_of(
        st.lists(items, max_size=3), st.dictionaries(st.sampled_from(["b", "0"]), items, max_size=2)
    ),
    max_leaves=4,
)
records = st.dictionaries(st.sampled_from(["a", "tags"]), json_values, max_size=2)
callers = st.fixed_dictionaries(
    {},
    optional={
        "id": st.sampled_from([None, "u1", "x"]),
        "roles": st.lists(st.sampled_from(["editor", "u1", "x"]), max_size=3),
        "platform": st.sampled_from([None, "wechat", ""]),
        "appid": st.sampled_from([None, "x"]),
    },
)

PRECEDENCE = {OrNode: 1, AndNode: 2, NotNode: 3}


def render(node: Node) -> str:
    match node:
        case Compared(op, left, right):
            return f"{left.text} {op} {right.text}"
        case Alone(value):
            return value.text
        case Group(item):
            return f"({render(item)})"
        case NotNode(item):
            return "!" + wrapped(item, 3)
        case AndNode(left, right):
            return f"{wrapped(left, 2)} && {wrapped(right, 2)}"
        case OrNode(left, right):
            return f"{wrapped(left, 1)} || {wrapped(right, 1)}"
    raise AssertionError(node)


def wrapped(node: Node, needed: int) -> str:
    """Parenthesize only where precedence demands it, so the parser's precedence is tested."""
    text = render(node)
    return f"({text})" if PRECEDENCE.get(type(node), 4) < needed else text


def nesting(node: Node) -> int:
    match node:
        case NotNode(item) | Group(item):
            return 1 + nesting(item)
        case AndNode(left, right) | OrNode(left, right):
            return 1 + max(nesting(left), nesting(right))
    return 0


def reference(node: Node, auth: Any, body: Any, doc: Any) -> bool:
    """The documented semantics, evaluated directly."""
    match node:
        case Compared(op, left, right):
            return compare(op, value_of(left, auth, body, doc), value_of(right, auth, body, doc))
        case Alone(value):
            return value_of(value, auth, body, doc)[0] is True
        case Group(item):
            return reference(item, auth, body, doc)
        case NotNode(item):
            return not reference(item, auth, body, doc)
        case AndNode(left, right):
            return reference(left, auth, body, doc) and reference(right, auth, body, doc)
        case OrNode(left, right):
            return reference(left, auth, body, doc) or reference(right, auth, body, doc)
    raise AssertionError(node)


def value_of(value: Value, auth: Any, body: Any, doc: Any) -> tuple[Any, str]:
    if value.origin == "literal":
        return value.literal, "literal"
    found = resolve({"auth": auth, "body": body, "doc": doc}[value.root], value.fields)
    return (None if found is MISSING else found), value.origin


def compare(op: str, left: tuple[Any, str], right: tuple[Any, str]) -> bool:
    if op in ("!=", "not in"):
        return not compare(op.removeprefix("not ").replace("!=", "=="), left, right)
    if op == "==":
        return equal(left, right)
    if op == "in":
        items, origin = right
        return isinstance(items, list) and any(equal(left, (item, origin)) for item in items)
    (first, _), (second, _) = left, right
    kind = scalar_kind(first)
    if kind not in ("number", "string") or scalar_kind(second) != kind:
        return False
    return bool(
        {"<": first < second, "<=": first <= second, ">": first > second}.get(op, first >= second)
    )


def equal(left: tuple[Any, str], right: tuple[Any, str]) -> bool:
    """Scalars of one kind with equal values; null equals null only if the rule wrote `null`."""
    (first, first_origin), (second, second_origin) = left, right
    if first is None or second is None:
        return first is None and second is None and "literal" in (first_origin, second_origin)
    kind = scalar_kind(first)
    return kind is not None and kind == scalar_kind(second) and first == second


@settings(max_examples=400, deadline=None)
@given(rules, callers, records, records)
def test_bound_rules_agree_with_the_reference_interpreter(
    node: Node, auth: dict[str, Any], body: dict[str, Any], doc: dict[str, Any]
) -> None:
    assume(nesting(node) < 60)
    text = render(node)

    condition = bind(parse_rule(text), auth, body)

    assert evaluate(condition, doc) == reference(node, auth, body, doc), text


@settings(max_examples=1000, deadline=None)
@given(st.one_of(comparisons, alone), callers, records, records)
def test_single_comparisons_agree_with_the_reference_interpreter(
    node: Node, auth: dict[str, Any], body: dict[str, Any], doc: dict[str, Any]
) -> None:
    text = render(node)

    condition = bind(parse_rule(text), auth, body)

    assert evaluate(condition, doc) == reference(node, auth, body, doc), text

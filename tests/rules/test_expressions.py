"""Parsing access rules: what the grammar accepts, the tree it builds, and every error."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minibase.rules.expressions import (
    MAX_NESTING,
    MAX_RULE_LENGTH,
    Comparison,
    Conjunction,
    Disjunction,
    Expression,
    LiteralList,
    LiteralValue,
    Negation,
    Path,
    RuleSyntaxError,
    parse_rule,
)

OWNER = Comparison("==", Path("doc", ("_owner",)), Path("auth", ("id",)))
EDITOR = Comparison("in", LiteralValue("editor"), Path("auth", ("roles",)))


def parsed(text: str) -> Expression:
    return parse_rule(text).expression


def doc_equals(field: str, value: object) -> Comparison:
    return Comparison("==", Path("doc", (field,)), LiteralValue(value))  # type: ignore[arg-type]


# --- what parses ------------------------------------------------------------------------------


def test_owner_or_editor_rule_parses_into_a_small_tree() -> None:
    rule = parse_rule('doc._owner == auth.id || "editor" in auth.roles')

    assert rule.expression == Disjunction((OWNER, EDITOR))
    assert rule.source == 'doc._owner == auth.id || "editor" in auth.roles'


def test_and_binds_tighter_than_or_and_not_tighter_than_and() -> None:
    assert parsed("doc.a == 1 || doc.b == 2 && !doc.c == 3") == Disjunction(
        (doc_equals("a", 1), Conjunction((doc_equals("b", 2), Negation(doc_equals("c", 3)))))
    )


def test_not_applies_to_the_whole_comparison_after_it() -> None:
    assert parsed("!doc.a == 1") == Negation(doc_equals("a", 1))


def test_parentheses_group_before_precedence() -> None:
    assert parsed("(doc.a == 1 || doc.b == 2) && doc.c == 3") == Conjunction(
        (Disjunction((doc_equals("a", 1), doc_equals("b", 2))), doc_equals("c", 3))
    )


def test_chains_of_the_same_operator_are_flat() -> None:
    assert parsed("doc.a == 1 && doc.b == 2 && doc.c == 3") == Conjunction(
        (doc_equals("a", 1), doc_equals("b", 2), doc_equals("c", 3))
    )


def test_whitespace_is_optional_between_tokens() -> None:
    assert parsed("doc.a==1&&!doc.b") == Conjunction(
        (doc_equals("a", 1), Negation(Path("doc", ("b",))))
    )
    assert parsed(" \n\tdoc.a  ==\n 1 ") == doc_equals("a", 1)


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("'single'", "single"),
        ('"double"', "double"),
        (r"'it\'s'", "it's"),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'back\\slash'", "back\\slash"),
        (r"'line\nbreak'", "line\nbreak"),
        (r"'tab\there'", "tab\there"),
        (r"'caf\u00e9'", "café"),
        ("'\"'", '"'),
        ("''", ""),
        ("'é 🎉'", "é 🎉"),
    ],
)
def test_string_literals_decode_their_escapes(source: str, value: str) -> None:
    assert parsed(f"doc.a == {source}") == doc_equals("a", value)


@pytest.mark.parametrize(
    ("source", "value"),
    [("42", 42), ("-7", -7), ("0", 0), ("2.5", 2.5), ("-0.25", -0.25), ("3.0", 3.0)],
)
def test_numbers_are_integers_or_decimals(source: str, value: float) -> None:
    comparison = parsed(f"doc.a == {source}")
    assert comparison == doc_equals("a", value)
    assert isinstance(comparison, Comparison)
    assert isinstance(comparison.right, LiteralValue)
    assert type(comparison.right.value) is type(value)


@pytest.mark.parametrize(("source", "value"), [("true", True), ("false", False), ("null", None)])
def test_true_false_and_null_are_literals(source: str, value: object) -> None:
    assert parsed(f"doc.a == {source}") == doc_equals("a", value)


def test_lists_hold_literals_and_may_be_empty() -> None:
    assert parsed("doc.a in [1, 'x', true, null, 2.5]") == Comparison(
        "in", Path("doc", ("a",)), LiteralList((1, "x", True, None, 2.5))
    )
    assert parsed("doc.a in []") == Comparison("in", Path("doc", ("a",)), LiteralList(()))


def test_not_in_is_one_operator_even_across_whitespace() -> None:
    assert parsed("doc.a not   in [1]") == Comparison(
        "not in", Path("doc", ("a",)), LiteralList((1,))
    )


def test_path_segments_are_names_or_array_indexes() -> None:
    assert parsed("doc.items.0.price_2 > 10") == Comparison(
        ">", Path("doc", ("items", "0", "price_2")), LiteralValue(10)
    )


@pytest.mark.parametrize("field", ["id", "platform", "appid"])
def test_auth_exposes_id_platform_and_appid_as_values(field: str) -> None:
    assert parsed(f"doc.x == auth.{field}") == Comparison(
        "==", Path("doc", ("x",)), Path("auth", (field,))
    )


def test_auth_roles_is_a_list_to_test_membership_in() -> None:
    assert parsed("'editor' in auth.roles") == EDITOR
    assert parsed("doc.team in auth.roles") == Comparison(
        "in", Path("doc", ("team",)), Path("auth", ("roles",))
    )


def test_a_field_alone_means_it_is_true() -> None:
    assert parsed("doc.published") == Path("doc", ("published",))
    assert parsed("body.draft") == Path("body", ("draft",))
    assert parsed("!doc.locked") == Negation(Path("doc", ("locked",)))


def test_true_and_false_alone_are_conditions() -> None:
    assert parsed("true") == LiteralValue(True)
    assert parsed("false || doc.a") == Disjunction((LiteralValue(False), Path("doc", ("a",))))


def test_values_on_either_side_are_kept_as_written() -> None:
    assert parsed("5 < doc.x") == Comparison("<", LiteralValue(5), Path("doc", ("x",)))
    assert parsed("auth.id == body.owner") == Comparison(
        "==", Path("auth", ("id",)), Path("body", ("owner",))
    )


def test_a_parenthesized_value_is_still_a_value() -> None:
    assert parsed("(doc.a) == (1)") == doc_equals("a", 1)


def test_nesting_up_to_the_limit_is_fine() -> None:
    depth = MAX_NESTING
    assert parsed("(" * depth + "true" + ")" * depth) == LiteralValue(True)
    expected: Expression = LiteralValue(True)
    for _ in range(depth):
        expected = Negation(expected)
    assert parsed("!" * depth + "true") == expected


def test_body_is_allowed_by_default_and_rejected_on_request() -> None:
    assert parse_rule("body.a == 1").expression == Comparison(
        "==", Path("body", ("a",)), LiteralValue(1)
    )
    with pytest.raises(RuleSyntaxError, match="no request body"):
        parse_rule("doc.a == body.a", allow_body=False)


def test_rule_syntax_error_is_a_value_error_with_message_and_position() -> None:
    with pytest.raises(ValueError, match=r"expected '\)' at 12") as caught:
        parse_rule("(doc.a == 1 ")
    error = caught.value
    assert isinstance(error, RuleSyntaxError)
    assert error.position == 12
    assert error.message == str(error) == "expected ')' at 12: found the end of the rule"


# --- what doesn't parse -----------------------------------------------------------------------

ERRORS = [
    # names
    ("user.id == 1", "unknown name 'user' at 0: use auth., doc. or body.", 0),
    ("doc.a == 1 and doc.b", "unknown name 'and' at 11: use '&&'", 11),
    ("doc.a == 1 or doc.b", "unknown name 'or' at 11: use '||'", 11),
    ("not doc.a", "unknown name 'not' at 0: use '!'", 0),
    ("doc == 1", "'doc' needs a field at 0: e.g. doc.id", 0),
    ("auth.email == 'x'", "auth has no field 'email' at 0", 0),
    ("auth.id.length == 1", "auth.id has no field 'length' at 0", 0),
    ("doc. == 1", "expected a field name after '.' at 3", 3),
    ("doc.a..b == 1", "expected a field name after '.' at 5", 5),
    ("doc.1st == 1", "field name '1st' starts with a digit at 4", 4),
    ("true.x", "unknown name 'true' at 0", 0),
    # record fields compared with record fields
    (
        "doc.a == doc.b",
        "doc.a == doc.b at 6: compare a record field with a value, not with another record field",
        6,
    ),
    ("doc.a < doc.b", "compare a record field with a value", 6),
    ("doc.a in doc.tags", "compare a record field with a value", 6),
    ("doc.a not in doc.tags", "compare a record field with a value", 6),
    # comparisons that can't mean anything
    ("doc.a == [1, 2]", "'==' can't compare with a list at 6: use 'in'", 6),
    ("[1] != doc.a", "'!=' can't compare with a list at 4: use 'in'", 4),
    ("doc.a < [1]", "'<' can't compare with a list at 6", 6),
    ("doc.a >= null", "'>=' orders numbers or strings, not null, at 6", 6),
    ("true > doc.a", "'>' orders numbers or strings, not a boolean, at 5", 5),
    ("auth.roles == 'editor'", "auth.roles is a list at 11: use 'editor' in auth.roles", 11),
    ("doc.a > auth.roles", "auth.roles is a list at 6", 6),
    ("doc.a in 'abc'", "'in' needs a list or a field on its right at 6", 6),
    ("doc.a not in 5", "'not in' needs a list or a field on its right at 6", 6),
    ("doc.a in auth.id", "auth.id is one value, not a list, at 6: use '=='", 6),
    ("[1] in doc.tags", "the left side of 'in' must be one value, not a list, at 4", 4),
    ("auth.roles in doc.tags", "the left side of 'in' must be one value", 11),
    ("(doc.a == 1) == true", "a condition can't be compared at 0", 0),
    ("doc.a == (doc.b == 1)", "a condition can't be compared at 9", 9),
    ("doc.a == 1 == true", "comparisons can't be chained at 11: join them with '&&'", 11),
    ("doc.a not doc.b", "expected 'in' after 'not' at 6", 6),
    # values where a condition belongs
    ("auth.id", "auth.id alone is not a condition at 0: compare it, e.g. auth.id != null", 0),
    ("auth.roles && true", "auth.roles alone is not a condition at 0", 0),
    ("'yes'", "a string alone is not a condition at 0", 0),
    ("doc.a || 1", "a number alone is not a condition at 9", 9),
    ("!null", "null alone is not a condition at 1", 1),
    ("[true]", "a list alone is not a condition at 0: use 'in'", 0),
    # structure
    ("", "expected a value at 0: found the end of the rule", 0),
    ("   ", "expected a value at 3: found the end of the rule", 3),
    ("(doc.a == 1", "expected ')' at 11: found the end of the rule", 11),
    ("doc.a == 1)", "expected '&&', '||' or the end of the rule at 10: found ')'", 10),
    ("doc.a == 1 doc.b", "expected '&&', '||' or the end of the rule at 11: found 'doc.b'", 11),
    ("doc.a ==", "expected a value at 8: found the end of the rule", 8),
    ("doc.a && && doc.b", "expected a value at 9: found '&&'", 9),
    ("doc.a in [1,]", "expected a string, number, true, false or null at 12", 12),
    ("doc.a in [doc.b]", "a list holds only literal values; found 'doc.b'", 10),
    ("doc.a in [[1]]", "expected a string, number, true, false or null at 10", 10),
    ("doc.a in [1 2]", "expected ']' at 12: found '2'", 12),
    ("doc.a in [1", "expected ']' at 11: found the end of the rule", 11),
    # characters
    ("doc.a = 1", "unexpected character '=' at 6: use '=='", 6),
    ("doc.a & doc.b", "unexpected character '&' at 6: use '&&'", 6),
    ("doc.a | doc.b", "unexpected character '|' at 6: use '||'", 6),
    ("doc.a == - 1", "unexpected character '-' at 9: a digit must follow '-'", 9),
    ("doc.a == 1.", "unexpected character '.' at 10", 10),
    ("doc.a # comment", "unexpected character '#' at 6", 6),
    ("doc.a == 'open", "unterminated string starting at 9", 9),
    ('doc.a == "open\\"', "unterminated string starting at 9", 9),
    (r"doc.a == 'a\q'", r"unknown escape '\q' at 11: use \\ \' \" \n \t or \uXXXX", 11),
    (r"doc.a == 'a\u12'", r"expected 4 hex digits after '\u' at 11", 11),
    (r"doc.a == '\ud83c'", r"'\ud83c' is a surrogate, not a character, at 10", 10),
    # numbers SQL can't compare
    ("doc.a == 9223372036854775808", "number 9223372036854775808 is out of range at 9", 9),
    ("doc.a == -9223372036854775809", "is out of range at 9", 9),
    ("doc.a == 1" + "0" * 400 + ".5", "is out of range at 9", 9),
]


@pytest.mark.parametrize(("text", "message", "position"), ERRORS)
def test_mistakes_are_reported_with_a_message_and_position(
    text: str, message: str, position: int
) -> None:
    with pytest.raises(RuleSyntaxError) as caught:
        parse_rule(text)
    assert message in caught.value.message
    assert caught.value.position == position


def test_64_bit_integers_at_the_edges_are_fine() -> None:
    assert parsed("doc.a == 9223372036854775807") == doc_equals("a", 2**63 - 1)
    assert parsed("doc.a == -9223372036854775808") == doc_equals("a", -(2**63))


@pytest.mark.parametrize(
    "text", ["body.a == 1", "doc.a == body.a", "'x' in body.tags", "body.ok", "!(body.n > 1)"]
)
def test_rules_without_a_request_body_cannot_read_body(text: str) -> None:
    with pytest.raises(RuleSyntaxError, match=r"body\.\w+ is not available at \d+"):
        parse_rule(text, allow_body=False)


def test_overlong_rules_are_rejected_before_parsing() -> None:
    with pytest.raises(RuleSyntaxError, match="rule is too long") as caught:
        parse_rule("true || " * 600 + "true")
    assert caught.value.position == MAX_RULE_LENGTH
    assert parse_rule(" " * (MAX_RULE_LENGTH - 4) + "true").expression == LiteralValue(True)


@pytest.mark.parametrize(
    "text",
    [
        "(" * (MAX_NESTING + 1) + "true" + ")" * (MAX_NESTING + 1),
        "!" * (MAX_NESTING + 1) + "true",
        "(" * 2000,
        "!(" * 1000,
    ],
)
def test_deep_nesting_is_a_syntax_error_not_a_recursion_error(text: str) -> None:
    with pytest.raises(
        RuleSyntaxError, match=f"nested too deeply at \\d+: the limit is {MAX_NESTING}"
    ):
        parse_rule(text)


# --- any input: a rule or a RuleSyntaxError, nothing else -------------------------------------

TOKEN_SOUP = st.sampled_from(
    [
        "doc.a", "doc.tags.0", "auth.id", "auth.roles", "auth.x", "body.b", "user", "doc",
        "==", "!=", "<", "<=", ">", ">=", "in", "not", "&&", "||", "!", "(", ")", "[", "]",
        ",", "true", "false", "null", "1", "-2.5", "'s'", '"t"', "'", "\\", ".", "=", "-",
    ]
)  # fmt: skip


@given(st.text(max_size=80), st.booleans())
def test_any_text_parses_or_raises_rule_syntax_error(text: str, allow_body: bool) -> None:
    try:
        parse_rule(text, allow_body=allow_body)
    except RuleSyntaxError as error:
        position = error.position
    else:
        position = 0
    assert 0 <= position <= len(text)


@given(st.lists(TOKEN_SOUP, max_size=30), st.sampled_from([" ", ""]), st.booleans())
def test_any_token_sequence_parses_or_raises_rule_syntax_error(
    tokens: list[str], separator: str, allow_body: bool
) -> None:
    text = separator.join(tokens)
    try:
        parse_rule(text, allow_body=allow_body)
    except RuleSyntaxError as error:
        position = error.position
    else:
        position = 0
    assert 0 <= position <= len(text)

"""Binding: a parsed rule + one request's caller and body -> a `Condition` over the record.

`auth.*` and `body.*` are known for the request, so they become values; `doc.*` stays a field
path for the store to check (in SQL for lists, in Python for single records). Comparisons
between known values are decided here, and `all_of`/`any_of`/`negate` fold the constants, so
`"admin" in auth.roles || doc._owner == auth.id` is TRUE for an admin and a plain `Compare`
for everyone else.

Null safety: a null or missing request value (an anonymous caller's `auth.id`, an absent
`body.owner`) equals nothing except the literal `null` written in the rule. Otherwise an
anonymous caller's `doc._owner == auth.id` would match every record without an owner.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from minibase.rules.conditions import (
    FALSE,
    MISSING,
    TRUE,
    Compare,
    CompareOp,
    Condition,
    Contains,
    FieldPath,
    In,
    all_of,
    any_of,
    negate,
    resolve,
    scalar_equal,
    scalar_kind,
)
from minibase.rules.expressions import (
    Comparison,
    Conjunction,
    Disjunction,
    Expression,
    LiteralList,
    LiteralValue,
    Negation,
    Operand,
    Path,
    Rule,
)

_FIELD_OPS: dict[str, CompareOp] = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
# `5 < doc.x` is `doc.x > 5`: the field always goes first in a Compare.
_FLIPPED_OPS: dict[str, CompareOp] = {"<": "gt", "<=": "gte", ">": "lt", ">=": "lte"}
_ORDERED_KINDS = frozenset({"number", "string"})
_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def bind(rule: Rule, auth: Mapping[str, Any], body: Mapping[str, Any]) -> Condition:
    """The condition a record must meet for this caller (`auth`: id, roles, platform, appid)
    sending this request body (`{}` when the action has none)."""
    return _bind(rule.expression, auth, body)


def _bind(expression: Expression, auth: Mapping[str, Any], body: Mapping[str, Any]) -> Condition:
    if isinstance(expression, Comparison):
        return _bind_comparison(expression, auth, body)
    if isinstance(expression, Conjunction):
        return all_of(*[_bind(item, auth, body) for item in expression.items])
    if isinstance(expression, Disjunction):
        return any_of(*[_bind(item, auth, body) for item in expression.items])
    if isinstance(expression, Negation):
        return negate(_bind(expression.item, auth, body))
    if isinstance(expression, Path) and expression.root == "doc":
        return Compare("eq", expression.fields, True)
    # A bare `true`, `false` or `body.flag`: only the JSON value true counts as true.
    value, _ = _value(expression, auth, body)
    return TRUE if value is True else FALSE


def _bind_comparison(
    comparison: Comparison, auth: Mapping[str, Any], body: Mapping[str, Any]
) -> Condition:
    op, left, right = comparison.op, comparison.left, comparison.right
    if op == "==":
        return _bind_equal(left, right, auth, body)
    if op == "!=":
        return negate(_bind_equal(left, right, auth, body))
    if op == "in":
        return _bind_in(left, right, auth, body)
    if op == "not in":
        return negate(_bind_in(left, right, auth, body))
    return _bind_order(op, left, right, auth, body)


def _bind_equal(
    left: Operand, right: Operand, auth: Mapping[str, Any], body: Mapping[str, Any]
) -> Condition:
    field, other, _ = _field_first(left, right)
    if field is None:
        equal = _known_equal(*_value(left, auth, body), *_value(right, auth, body))
        return TRUE if equal else FALSE
    value, from_request = _value(other, auth, body)
    if (value is None and from_request) or scalar_kind(value) is None:
        return FALSE
    return Compare("eq", field, value)


def _bind_order(
    op: str, left: Operand, right: Operand, auth: Mapping[str, Any], body: Mapping[str, Any]
) -> Condition:
    """Ordering compares numbers with numbers and strings with strings; anything else is false."""
    field, other, flipped = _field_first(left, right)
    if field is not None:
        value, _ = _value(other, auth, body)
        if scalar_kind(value) not in _ORDERED_KINDS:
            return FALSE
        return Compare((_FLIPPED_OPS if flipped else _FIELD_OPS)[op], field, value)
    (first, _), (second, _) = _value(left, auth, body), _value(right, auth, body)
    kind = scalar_kind(first)
    if kind not in _ORDERED_KINDS or scalar_kind(second) != kind:
        return FALSE
    return TRUE if _ORDERINGS[op](first, second) else FALSE


def _bind_in(
    left: Operand, right: Operand, auth: Mapping[str, Any], body: Mapping[str, Any]
) -> Condition:
    """`x in list` is `x == item` for some item, with the null safety of `==`."""
    if isinstance(right, Path) and right.root == "doc":
        value, from_request = _value(left, auth, body)
        if (value is None and from_request) or scalar_kind(value) is None:
            return FALSE
        return Contains(right.fields, value)
    items, items_from_request = _value(right, auth, body)
    if not isinstance(items, (list, tuple)):
        return FALSE  # e.g. body.tags sent as a string, or auth without roles
    if isinstance(left, Path) and left.root == "doc":
        values = tuple(_field_matchable(items, items_from_request))
        return In(left.fields, values) if values else FALSE
    value, from_request = _value(left, auth, body)
    found = any(_known_equal(value, from_request, item, items_from_request) for item in items)
    return TRUE if found else FALSE


def _field_matchable(items: list[Any] | tuple[Any, ...], from_request: bool) -> list[Any]:
    """The items a record field can equal: scalars, and null only if written in the rule."""
    return [
        item
        for item in items
        if scalar_kind(item) is not None and not (item is None and from_request)
    ]


def _known_equal(
    first: Any, first_from_request: bool, second: Any, second_from_request: bool
) -> bool:
    """`==` between two values known at bind time. Null equals null only when at least one of
    them is the literal `null` of the rule: two absent request values are not "equal"."""
    if first is None or second is None:
        return first is None and second is None and not (first_from_request and second_from_request)
    return scalar_kind(first) is not None and scalar_equal(first, second)


def _value(operand: Operand, auth: Mapping[str, Any], body: Mapping[str, Any]) -> tuple[Any, bool]:
    """The value of a literal, `auth.*` or `body.*` operand, and whether it came from the request
    (missing counts as null)."""
    if isinstance(operand, LiteralValue):
        return operand.value, False
    if isinstance(operand, LiteralList):
        return operand.values, False
    if operand.root == "auth":
        return auth.get(operand.fields[0]), True
    value = resolve(body, operand.fields)
    return (None if value is MISSING else value), True


def _field_first(left: Operand, right: Operand) -> tuple[FieldPath | None, Operand, bool]:
    """The record field of a comparison (None when there is none), the other side, and whether
    the field was on the right. The parser rejects comparisons of two record fields."""
    if isinstance(left, Path) and left.root == "doc":
        return left.fields, right, False
    if isinstance(right, Path) and right.root == "doc":
        return right.fields, left, True
    return None, right, False

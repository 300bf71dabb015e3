"""The rule tester: as this user (or no one), on this record, which actions would the
collection's rules let through, and where each refusal comes from.

    answer = await try_rules(services, "posts", {"user": "01k...", "record": "01k..."})
    answer["actions"]["update"] == {"allowed": False, "rule": "doc._owner == auth.id",
                                    "why": ["_owner == '01k...' (the record has '01j...')"]}

The rules are bound and evaluated exactly as the records feature does (`rule_condition`,
`evaluate`); a refusal is explained by the parts of the bound condition that are false on
the record, as the data API's filter paths name them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from minibase.auth.caller import ANONYMOUS, Caller
from minibase.auth.users import get_user
from minibase.data.access import rule_condition
from minibase.data.records import get_record
from minibase.errors import ApiError
from minibase.rules.binding import bind
from minibase.rules.conditions import (
    MISSING,
    And,
    Compare,
    Condition,
    Const,
    Contains,
    Exists,
    In,
    Like,
    Not,
    Or,
    Regex,
    Search,
    evaluate,
    resolve,
)
from minibase.rules.expressions import (
    Comparison,
    Conjunction,
    Disjunction,
    Expression,
    LiteralList,
    Negation,
    Operand,
    Path,
    Rule,
)
from minibase.rules.presets import ACTIONS, ACTIONS_WITH_BODY
from minibase.services import Services

_OPS = {"eq": "==", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


async def try_rules(services: Services, name: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, Mapping) or set(body) - {"user", "record", "write"}:
        shape = '{"user": id or null, "record": id or {...}, "write": {...}}'
        raise ApiError("request.invalid_body", 400, f"the body is {shape}")
    collection = await services.collections.get(name)
    caller = await _caller(services, body.get("user"))
    record = await _record(services, name, body.get("record"))
    write = body.get("write") or {}
    if not isinstance(write, Mapping):
        raise ApiError("request.invalid_body", 400, "write is the body of a create or update")
    actions: dict[str, Any] = {}
    for action in ACTIONS:
        rule = collection.rules.get(action)
        if rule is None:
            actions[action] = {"allowed": False, "rule": None, "why": ["only admins may"]}
            continue
        body = write if action in ACTIONS_WITH_BODY else {}
        condition = rule_condition(caller, collection, action, body)
        allowed = evaluate(condition, record)
        parsed = collection.compiled_rules[action]
        assert parsed is not None  # the rule exists: rule_condition bound it
        why = [] if allowed else explain(parsed.expression, caller.rule_view(), body, record)
        actions[action] = {"allowed": allowed, "rule": rule, "why": why}
    return {"user": caller.id, "record": record, "actions": actions}


async def _caller(services: Services, user_id: Any) -> Caller:
    if user_id is None:
        return ANONYMOUS
    if not isinstance(user_id, str):
        raise ApiError("request.invalid_body", 400, "user is a user id, or null for anyone")
    async with services.db.reader() as reader:
        user = await get_user(reader, user_id)
    return Caller(kind="user", id=user.id, roles=user.roles)


async def _record(services: Services, name: str, given: Any) -> dict[str, Any]:
    if isinstance(given, str):
        admin = Caller(kind="admin")
        found: dict[str, Any] = orjson.loads(await get_record(services, admin, name, given))
        return found
    if isinstance(given, Mapping):
        return dict(given)
    raise ApiError("request.invalid_body", 400, "record is a record id, or a record as JSON")


def explain(
    expression: Expression,
    auth: Mapping[str, Any],
    body: Mapping[str, Any],
    record: Mapping[str, Any],
) -> list[str]:
    """The parts of a rule that make it false for this caller on this record, as readable
    lines: a part on the record as the filter paths name it (with what the record has), a
    part on the caller or the body as the rule writes it."""
    condition = bind(Rule("", expression), auth, body)
    if isinstance(expression, Conjunction):
        return [
            line
            for item in expression.items
            if not evaluate(bind(Rule("", item), auth, body), record)
            for line in explain(item, auth, body, record)
        ]
    if isinstance(expression, Disjunction):
        parts = [" ".join(explain(item, auth, body, record)) for item in expression.items]
        return ["none of: " + " | ".join(parts)]
    if isinstance(condition, Const):
        known = {str(path): resolve(auth, path.fields) for path in _caller_paths(expression)}
        values = ", ".join(
            f"{name} is {'nothing' if value is MISSING else _shown(value)}"
            for name, value in known.items()
        )
        return [
            f"{written(expression)} is false for this caller" + (f" ({values})" if values else "")
        ]
    return [describe(condition, record)]


def _caller_paths(expression: Expression | Operand) -> list[Path]:
    if isinstance(expression, Path):
        return [expression] if expression.root == "auth" else []
    if isinstance(expression, Comparison):
        return _caller_paths(expression.left) + _caller_paths(expression.right)
    if isinstance(expression, Negation):
        return _caller_paths(expression.item)
    if isinstance(expression, Conjunction | Disjunction):
        return [path for item in expression.items for path in _caller_paths(item)]
    return []


def written(expression: Expression | Operand) -> str:
    """A part of a rule as its author would write it."""
    if isinstance(expression, Comparison):
        return f"{written(expression.left)} {expression.op} {written(expression.right)}"
    if isinstance(expression, Negation):
        return f"!({written(expression.item)})"
    if isinstance(expression, Conjunction | Disjunction):
        joiner = " && " if isinstance(expression, Conjunction) else " || "
        return "(" + joiner.join(written(item) for item in expression.items) + ")"
    if isinstance(expression, Path):
        return str(expression)
    if isinstance(expression, LiteralList):
        return _shown(list(expression.values))
    return _shown(expression.value)


def describe(condition: Condition, record: Mapping[str, Any]) -> str:
    if isinstance(condition, Const):
        return "always" if condition.value else "a part on auth is false for this caller"
    if isinstance(condition, Not):
        return f"not ({describe(condition.item, record)})"
    if isinstance(condition, And | Or):
        joiner = " && " if isinstance(condition, And) else " || "
        return "(" + joiner.join(describe(item, record) for item in condition.items) + ")"
    if isinstance(condition, Search):  # filters only: rules have no $search
        return f"$search {condition.text!r}"
    path = ".".join(condition.path)
    if isinstance(condition, Compare):
        text = f"{path} {_OPS[condition.op]} {_shown(condition.value)}"
    elif isinstance(condition, In):
        text = f"{path} in {[_shown(v) for v in condition.values]}"
    elif isinstance(condition, Contains):
        text = f"{path} holds {_shown(condition.value)}"
    elif isinstance(condition, Exists):
        text = f"{path} exists"
    elif isinstance(condition, Regex | Like):
        text = f"{path} matches {condition.pattern!r}"
    else:  # pragma: no cover - every kind is listed above
        text = repr(condition)
    actual = resolve(record, condition.path)
    return f"{text} (the record has {'nothing' if actual is MISSING else _shown(actual)})"


def _shown(value: Any) -> str:
    return orjson.dumps(value).decode()

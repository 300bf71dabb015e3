"""Access rules, applied in one place.

`rule_condition` turns a collection's rule for an action into a Condition over the record, for
this caller and this write. The records feature puts that condition into SQL (list, read, update,
delete) or evaluates it on the new record (create): both from the same bound rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minibase.auth.caller import Caller
from minibase.errors import ApiError
from minibase.memo import remember
from minibase.rules.binding import bind
from minibase.rules.conditions import TRUE, Condition
from minibase.store.collections import Collection

_NO_BODY: Mapping[str, Any] = {}
# Bound rules a collection keeps, for the callers seen lately; cleared whole when full.
BOUND_RULES = 4096


def rule_condition(
    caller: Caller, collection: Collection, action: str, body: Mapping[str, Any] = _NO_BODY
) -> Condition:
    """What a record must satisfy for the caller to do `action`; admins pass every rule.

    A rule bound without a body depends on the caller's identity alone (id, roles, platform,
    app), so the collection keeps it for the next request of the same caller: the same
    condition object, whose SQL its compiler keeps too. A collection whose rules change is a
    new object, with nothing kept."""
    if caller.is_admin:
        return TRUE
    rule = collection.compiled_rules[action]
    if rule is None:
        raise ApiError(
            "auth.forbidden", 403, f"only admins may {action} records of {collection.name}"
        )
    if body:
        return bind(rule, caller.rule_view(), body)
    kept = collection.bound_rules
    key = (action, caller)  # a Caller compares by its identity, not its cached rule view
    bound = kept.get(key)
    if bound is None:
        bound = remember(kept, key, bind(rule, caller.rule_view(), body), BOUND_RULES)
    return bound


def is_locked(caller: Caller, collection: Collection, action: str) -> bool:
    return not caller.is_admin and collection.compiled_rules[action] is None


def denied(caller: Caller, collection: Collection, action: str) -> ApiError:
    if caller.kind == "anonymous":
        return ApiError("auth.required", 401, f"sign in to {action} records of {collection.name}")
    return ApiError("auth.forbidden", 403, f"the {action} rule of {collection.name} refuses this")

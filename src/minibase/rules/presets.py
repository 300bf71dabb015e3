"""Rule presets: the four CloudBase-style permission levels a collection starts from.

A collection's rules are one expression (or None) per action. None means "admins only": admins
bypass rules, and nobody else gets through. A definition names a preset and may override single
actions:

    {"preset": "owner_only", "update": "doc._owner == auth.id && doc.locked != true"}
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

Action: TypeAlias = Literal["list", "read", "create", "update", "delete"]
ACTIONS: tuple[Action, ...] = ("list", "read", "create", "update", "delete")
# Only these actions carry a request body, so only their rules may read `body.`.
ACTIONS_WITH_BODY: frozenset[Action] = frozenset({"create", "update"})

_SIGNED_IN = "auth.id != null"
_OWNER = "doc._owner == auth.id"

PRESETS: Mapping[str, Mapping[Action, str | None]] = MappingProxyType(
    {
        "public_read_owner_write": MappingProxyType(
            {
                "list": "true",
                "read": "true",
                "create": _SIGNED_IN,
                "update": _OWNER,
                "delete": _OWNER,
            }
        ),
        "owner_only": MappingProxyType(
            {
                "list": _OWNER,
                "read": _OWNER,
                "create": _SIGNED_IN,
                "update": _OWNER,
                "delete": _OWNER,
            }
        ),
        "public_read_admin_write": MappingProxyType(
            {"list": "true", "read": "true", "create": None, "update": None, "delete": None}
        ),
        "admin_only": MappingProxyType(
            {"list": None, "read": None, "create": None, "update": None, "delete": None}
        ),
    }
)


def resolve_rules(spec: Mapping[str, Any]) -> dict[str, str | None]:
    """One rule per action from a definition: the preset's rules (if it names one), overridden
    by explicit action keys; an action named by neither is None (admins only).

    Raises ValueError for unknown keys or presets, and for a rule that is not a string or None.
    Rule syntax is checked where the rules are parsed (`parse_rule`), not here.
    """
    if not isinstance(spec, Mapping):
        raise ValueError(f"rules must be an object, not {type(spec).__name__}")
    unknown = sorted(str(key) for key in spec if key != "preset" and key not in ACTIONS)
    if unknown:
        raise ValueError(
            f"unknown rule key(s) {', '.join(map(repr, unknown))}: "
            f"use 'preset' or an action ({', '.join(ACTIONS)})"
        )
    preset: Mapping[Action, str | None] = _preset(spec["preset"]) if "preset" in spec else {}
    rules: dict[str, str | None] = {}
    for action in ACTIONS:
        rule = spec.get(action, preset.get(action))
        if rule is not None and not isinstance(rule, str):
            raise ValueError(
                f"the {action} rule must be an expression string or null, not {type(rule).__name__}"
            )
        rules[action] = rule
    return rules


def _preset(name: object) -> Mapping[Action, str | None]:
    if isinstance(name, str) and name in PRESETS:
        return PRESETS[name]
    raise ValueError(f"unknown preset {name!r}: use one of {', '.join(PRESETS)}")

"""Conditions over JSON documents: access-rule expressions and the filter language.

Both are parsed once into the same `Condition` tree, which the store compiles to SQL and
`evaluate` checks in Python; the two always agree (a property test holds them to it).
This package imports nothing else of minibase.
"""

from minibase.rules.binding import bind
from minibase.rules.conditions import (
    FALSE,
    TRUE,
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
    evaluate,
)
from minibase.rules.expressions import Rule, RuleSyntaxError, parse_rule
from minibase.rules.presets import PRESETS, resolve_rules

__all__ = [
    "FALSE",
    "PRESETS",
    "TRUE",
    "And",
    "Compare",
    "Condition",
    "Const",
    "Contains",
    "Exists",
    "In",
    "Like",
    "Not",
    "Or",
    "Regex",
    "Rule",
    "RuleSyntaxError",
    "bind",
    "evaluate",
    "parse_rule",
    "resolve_rules",
]

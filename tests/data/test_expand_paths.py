"""Expand paths are read against the schemas: reference fields by their dotted path,
back-relations `<collection>_via_<field>` (even where a collection's name holds `_via_`),
paths sharing a start merged into one tree."""

from __future__ import annotations

from typing import Any

import pytest

from minibase.data.expand_paths import ExpandNode, parse_expand, plan_expand
from minibase.errors import ApiError
from minibase.store.collections import Collection, parse_definition


def collection(name: str, fields: dict[str, Any]) -> Collection:
    return parse_definition({"name": name, "fields": fields}, collection_id=name)


def ref(target: str) -> dict[str, Any]:
    return {"type": "reference", "collection": target}


USERS = collection("users", {"company": ref("companies")})
COMPANIES = collection("companies", {"name": {"type": "string"}})
LINES = {"type": "array", "items": {"type": "object", "fields": {"sku": ref("users")}}}
ORDERS = collection("orders", {"buyer": ref("users"), "items": LINES})
# a name holding _via_ itself: its back-relation is "tips_via_pros_via_user"
TIPS = collection("tips_via_pros", {"user": ref("users")})
ALL = [USERS, COMPANIES, ORDERS, TIPS]


def tree(nodes: tuple[ExpandNode, ...] | list[ExpandNode]) -> dict[str, Any]:
    """The plan as {step: (collection, back?, path, then)}."""
    return {
        node.step.name: (
            node.step.source.name,
            node.step.back,
            node.step.path,
            tree(list(node.then.values())),
        )
        for node in nodes
    }


def test_paths_sharing_a_start_become_one_tree_of_steps() -> None:
    plan = plan_expand(ALL, ORDERS, ["buyer", "buyer.company", "items.sku.orders_via_buyer"])

    assert tree(plan) == {
        "buyer": ("users", False, ("buyer",), {"company": ("companies", False, ("company",), {})}),
        "items.sku": (
            "users",
            False,
            ("items", "*", "sku"),
            {"orders_via_buyer": ("orders", True, ("buyer",), {})},
        ),
    }


def test_a_back_relation_is_found_through_nested_fields_and_names_holding_via() -> None:
    plan = plan_expand(ALL, USERS, ["orders_via_items.sku.buyer", "tips_via_pros_via_user"])

    assert tree(plan) == {
        "orders_via_items.sku": (
            "orders",
            True,
            ("items", "*", "sku"),
            {"buyer": ("users", False, ("buyer",), {})},
        ),
        "tips_via_pros_via_user": ("tips_via_pros", True, ("user",), {}),
    }


def test_the_form_of_expand_is_checked_before_any_schema() -> None:
    assert parse_expand(None) == ()
    assert parse_expand("") == ()
    assert parse_expand("buyer,buyer.company,buyer") == ("buyer", "buyer.company")
    for text in ("buyer,", "a..b", " buyer", "_id", "1a", ",".join(["a"] * 11)):
        with pytest.raises(ApiError) as refused:
            parse_expand(text)
        assert refused.value.code == "records.invalid_expand"


def test_a_step_from_a_reference_to_a_missing_collection_is_refused() -> None:
    with pytest.raises(ApiError) as refused:
        plan_expand([USERS], USERS, ["company"])

    assert refused.value.code == "records.invalid_expand"
    assert "users.company points at companies, which does not exist" in refused.value.message

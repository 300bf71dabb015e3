"""Datetime filter values are compared in the stored form (fixed-width UTC)."""

from __future__ import annotations

from minibase.data.times import normalize_times
from minibase.rules.conditions import And, Compare, In, Not
from minibase.store.collections import parse_definition

POSTS = parse_definition(
    {"name": "posts", "fields": {"at": {"type": "datetime"}, "title": {"type": "string"}}},
    collection_id="c1",
)


def test_a_datetime_with_an_offset_becomes_stored_utc_text() -> None:
    condition = Compare("gt", ("at",), "2026-01-01T08:00:00+08:00")
    assert normalize_times(condition, POSTS) == Compare(
        "gt", ("at",), "2026-01-01T00:00:00.000000Z"
    )


def test_system_times_inside_and_or_not_and_in_are_normalized() -> None:
    condition = And(
        (
            Not(Compare("lt", ("_created",), "2026-01-01T00:00:00Z")),
            In(("_updated",), ("2026-01-01T00:00:00Z", 5)),
        )
    )
    assert normalize_times(condition, POSTS) == And(
        (
            Not(Compare("lt", ("_created",), "2026-01-01T00:00:00.000000Z")),
            In(("_updated",), ("2026-01-01T00:00:00.000000Z", 5)),
        )
    )


def test_other_fields_and_unparseable_values_are_left_alone() -> None:
    untouched = And(
        (Compare("eq", ("title",), "2026-01-01T00:00:00Z"), Compare("eq", ("at",), "yesterday"))
    )
    assert normalize_times(untouched, POSTS) == untouched

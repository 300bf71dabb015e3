"""The filter language parses into conditions and refuses what no engine can compare."""

from __future__ import annotations

import pytest

from minibase.rules.conditions import FALSE, And, Compare, Contains, In, Like, Not, Or, Regex
from minibase.rules.filters import FilterError, parse_filter


def test_plain_values_are_equality_and_keys_are_anded() -> None:
    assert parse_filter({"status": "published", "meta.size": 3}).condition == And(
        (Compare("eq", ("status",), "published"), Compare("eq", ("meta", "size"), 3))
    )


def test_operators_become_their_conditions() -> None:
    condition = parse_filter(
        {
            "$or": [{"score": {"$gte": 10, "$lt": 20}}, {"tags": {"$all": ["a"]}}],
            "kind": {"$nin": ["x"]},
            "title": {"$regex": "^he", "$options": "i"},
            "code": {"$like": "A%"},
        }
    ).condition
    assert condition == And(
        (
            Or(
                (
                    And((Compare("gte", ("score",), 10), Compare("lt", ("score",), 20))),
                    Contains(("tags",), "a"),
                )
            ),
            Not(In(("kind",), ("x",))),
            Regex(("title",), "^he", ignore_case=True),
            Like(("code",), "A%"),
        )
    )


def test_a_filter_names_every_path_even_where_an_empty_list_decides_it() -> None:
    parsed = parse_filter(
        {"$or": [{"tags": {"$all": []}}, {"score": 1}], "kind": {"$in": []}, "meta.x": {"$nin": []}}
    )
    assert parsed.condition == FALSE  # `$in: []` matches nothing, whatever else holds
    assert parsed.paths == {("tags",), ("score",), ("kind",), ("meta", "x")}


@pytest.mark.parametrize(
    ("value", "at"),
    [
        ({"score": 2**63}, "score"),
        ({"title": "a\x00b"}, "title"),
        ({"title": {"$like": "a\x00%"}}, "title.$like"),
        ({"title": {"$regex": "a\x00"}}, "title.$regex"),
        ({"title": {"$in": ["ok", "no\x00"]}}, "title.$in.1"),
        ({"title": {"$regex": "(?P<x>a)"}}, "title.$regex"),
        ({"title": {"$gt": True}}, "title.$gt"),
        ({"title\n": 1}, "title\n"),
        ({"_secret": 1}, "_secret"),
        ({"$where": "1"}, "$where"),
    ],
)
def test_values_no_engine_can_hold_are_refused_where_they_stand(value: object, at: str) -> None:
    with pytest.raises(FilterError) as refused:
        parse_filter(value)
    assert refused.value.at == at

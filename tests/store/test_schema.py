"""Collection schemas: what a definition may say, and what documents it accepts."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minibase.store.schema import DefinitionError, Schema, ValidationError


def valid(fields: dict[str, Any], doc: dict[str, Any], **options: Any) -> dict[str, Any]:
    additional = options.pop("additional", True)
    apply_defaults = options.pop("apply_defaults", True)
    return Schema.parse(fields, additional=additional).validate(doc, apply_defaults=apply_defaults)


def problems(fields: dict[str, Any], doc: Any, **options: Any) -> list[tuple[str, str]]:
    """(field, code) of every problem validation reports."""
    with pytest.raises(ValidationError) as caught:
        valid(fields, doc, **options)
    return [(problem["field"], problem["code"]) for problem in caught.value.problems]


def definition_problems(fields: Any, *, additional: Any = True) -> list[tuple[str, str]]:
    with pytest.raises(DefinitionError) as caught:
        Schema.parse(fields, additional=additional)
    return [(problem["field"], problem["message"]) for problem in caught.value.problems]


# -- strings ----------------------------------------------------------------------------------

TITLE = {"title": {"type": "string", "min": 1, "max": 5, "pattern": "^[^<>]*$"}}


def test_string_is_kept_as_given() -> None:
    assert valid(TITLE, {"title": "Hello"}) == {"title": "Hello"}


def test_string_length_counts_characters_not_bytes() -> None:
    assert valid(TITLE, {"title": "你好世界!"}) == {"title": "你好世界!"}


def test_string_too_short_too_long_or_not_matching_the_pattern() -> None:
    assert problems(TITLE, {"title": ""}) == [("title", "min")]
    assert problems(TITLE, {"title": "Hello!"}) == [("title", "max")]
    assert problems(TITLE, {"title": "<b>"}) == [("title", "pattern")]


def test_pattern_matches_anywhere_unless_anchored() -> None:
    fields = {"code": {"type": "string", "pattern": "[0-9]"}}
    assert valid(fields, {"code": "abc1"}) == {"code": "abc1"}
    assert problems(fields, {"code": "abc"}) == [("code", "pattern")]


def test_string_must_be_a_string() -> None:
    assert problems(TITLE, {"title": 5}) == [("title", "type")]


# -- integers and numbers ---------------------------------------------------------------------


def test_integer_within_bounds() -> None:
    fields = {"score": {"type": "integer", "min": 0, "max": 10}}
    assert valid(fields, {"score": 10}) == {"score": 10}
    assert problems(fields, {"score": -1}) == [("score", "min")]
    assert problems(fields, {"score": 11}) == [("score", "max")]


def test_booleans_and_floats_are_not_integers() -> None:
    fields = {"score": {"type": "integer"}}
    assert problems(fields, {"score": True}) == [("score", "type")]
    assert problems(fields, {"score": 3.0}) == [("score", "type")]
    assert problems(fields, {"score": "3"}) == [("score", "type")]


def test_integers_fit_in_signed_64_bits() -> None:
    fields = {"n": {"type": "integer"}}
    assert valid(fields, {"n": 2**63 - 1}) == {"n": 2**63 - 1}
    assert valid(fields, {"n": -(2**63)}) == {"n": -(2**63)}
    assert problems(fields, {"n": 2**63}) == [("n", "max")]
    assert problems(fields, {"n": -(2**63) - 1}) == [("n", "min")]


def test_number_takes_integers_and_finite_floats() -> None:
    fields = {"price": {"type": "number", "min": 0, "max": 9.5}}
    assert valid(fields, {"price": 3}) == {"price": 3}
    assert valid(fields, {"price": 9.5}) == {"price": 9.5}
    assert problems(fields, {"price": -0.01}) == [("price", "min")]
    assert problems(fields, {"price": 9.51}) == [("price", "max")]
    assert problems(fields, {"price": True}) == [("price", "type")]
    assert problems(fields, {"price": math.nan}) == [("price", "format")]
    assert problems(fields, {"price": math.inf}) == [("price", "format")]


# -- booleans, datetimes, enums ---------------------------------------------------------------


def test_boolean_is_true_or_false_only() -> None:
    fields = {"done": {"type": "boolean"}}
    assert valid(fields, {"done": False}) == {"done": False}
    assert problems(fields, {"done": 0}) == [("done", "type")]
    assert problems(fields, {"done": "true"}) == [("done", "type")]


def test_datetime_is_stored_as_fixed_width_utc() -> None:
    fields = {"at": {"type": "datetime"}}
    assert valid(fields, {"at": "2026-01-01T08:00:00+08:00"}) == {
        "at": "2026-01-01T00:00:00.000000Z"
    }
    assert valid(fields, {"at": "2026-03-04T05:06:07.5z"}) == {"at": "2026-03-04T05:06:07.500000Z"}
    normalized = "2026-03-04T05:06:07.123456Z"
    assert valid(fields, {"at": normalized}) == {"at": normalized}


def test_datetime_strings_sort_in_time_order_even_before_year_1000() -> None:
    schema = Schema.parse({"at": {"type": "datetime"}})
    times = ["0999-06-01T00:00:00Z", "1000-01-01T00:00:00+01:00", "2026-01-01T00:00:00+14:00"]
    stored = [schema.validate({"at": time}, apply_defaults=False)["at"] for time in times]
    assert stored == sorted(stored)
    assert stored[:2] == ["0999-06-01T00:00:00.000000Z", "0999-12-31T23:00:00.000000Z"]
    assert len({len(text) for text in stored}) == 1


def test_datetime_needs_a_timezone_and_a_real_date() -> None:
    fields = {"at": {"type": "datetime"}}
    assert problems(fields, {"at": "2026-01-01T00:00:00"}) == [("at", "format")]
    assert problems(fields, {"at": "2026-02-30T00:00:00.000000Z"}) == [("at", "format")]
    assert problems(fields, {"at": "yesterday"}) == [("at", "format")]
    assert problems(fields, {"at": 1767225600}) == [("at", "type")]


def test_enum_of_strings() -> None:
    fields = {"status": {"type": "enum", "values": ["draft", "published"]}}
    assert valid(fields, {"status": "draft"}) == {"status": "draft"}
    assert problems(fields, {"status": "deleted"}) == [("status", "enum")]
    assert problems(fields, {"status": 1}) == [("status", "type")]


def test_enum_of_numbers_does_not_take_booleans() -> None:
    fields = {"level": {"type": "enum", "values": [0, 1, 2.5]}}
    assert valid(fields, {"level": 2.5}) == {"level": 2.5}
    assert problems(fields, {"level": True}) == [("level", "type")]
    assert problems(fields, {"level": 3}) == [("level", "enum")]


# -- geopoints and references -----------------------------------------------------------------

PLACE = {"place": {"type": "geopoint"}}


def test_geopoint_is_a_geojson_point_longitude_first() -> None:
    point = {"type": "Point", "coordinates": [121.47, 31.23]}
    assert valid(PLACE, {"place": point}) == {"place": point}


@pytest.mark.parametrize(
    "point",
    [
        {"type": "Point", "coordinates": [181, 0]},
        {"type": "Point", "coordinates": [0, -90.5]},
        {"type": "Point", "coordinates": [1, 2, 3]},
        {"type": "Point", "coordinates": [True, 2]},
        {"type": "Point", "coordinates": [math.nan, 2]},
        {"type": "point", "coordinates": [1, 2]},
        {"type": "Point", "coordinates": [1, 2], "crs": "WGS84"},
        {"coordinates": [1, 2]},
    ],
)
def test_geopoint_shape_and_range_problems_are_format(point: dict[str, Any]) -> None:
    assert problems(PLACE, {"place": point}) == [("place", "format")]


def test_geopoint_coordinates_too_big_for_a_float_are_format_problems() -> None:
    point = {"type": "Point", "coordinates": [10**400, 0]}
    assert problems(PLACE, {"place": point}) == [("place", "format")]


def test_geopoint_must_be_an_object() -> None:
    assert problems(PLACE, {"place": [121.47, 31.23]}) == [("place", "type")]


def test_reference_is_a_record_id() -> None:
    fields = {"author": {"type": "reference", "collection": "users"}}
    assert valid(fields, {"author": "u_1-A"}) == {"author": "u_1-A"}
    assert problems(fields, {"author": "u 1"}) == [("author", "format")]
    assert problems(fields, {"author": "x" * 65}) == [("author", "format")]
    assert problems(fields, {"author": "u1\n"}) == [("author", "format")]
    assert problems(fields, {"author": 7}) == [("author", "type")]


def test_references_lists_paths_and_targets_with_star_for_array_items() -> None:
    schema = Schema.parse(
        {
            "author": {"type": "reference", "collection": "users"},
            "lines": {
                "type": "array",
                "items": {
                    "type": "object",
                    "fields": {"sku": {"type": "reference", "collection": "skus"}},
                },
            },
            "watchers": {"type": "array", "items": {"type": "reference", "collection": "users"}},
        }
    )
    assert list(schema.references()) == [
        (("author",), "users"),
        (("lines", "*", "sku"), "skus"),
        (("watchers", "*"), "users"),
    ]


# -- objects and arrays -----------------------------------------------------------------------

META = {
    "meta": {
        "type": "object",
        "fields": {
            "size": {"type": "integer", "min": 0},
            "color": {"type": "string", "required": True},
        },
        "additional": False,
    }
}


def test_object_fields_are_checked_with_dotted_paths() -> None:
    assert valid(META, {"meta": {"size": 1, "color": "red"}}) == {
        "meta": {"size": 1, "color": "red"}
    }
    assert problems(META, {"meta": {"size": -1, "shade": "dark"}}) == [
        ("meta.size", "min"),
        ("meta.shade", "unknown_field"),
        ("meta.color", "required"),
    ]
    assert problems(META, {"meta": "red"}) == [("meta", "type")]


def test_object_keeps_undeclared_keys_by_default() -> None:
    fields = {"meta": {"type": "object", "fields": {"size": {"type": "integer"}}}}
    doc = {"meta": {"size": 1, "note": {"any": ["json"]}}}
    assert valid(fields, doc) == doc


TAGS = {"tags": {"type": "array", "items": {"type": "string", "max": 3}, "min": 1, "max": 3}}


def test_array_items_are_checked_with_their_index_in_the_path() -> None:
    assert valid(TAGS, {"tags": ["a", "b"]}) == {"tags": ["a", "b"]}
    assert problems(TAGS, {"tags": ["a", "long", 3]}) == [("tags.1", "max"), ("tags.2", "type")]


def test_array_item_count_is_bounded() -> None:
    assert problems(TAGS, {"tags": []}) == [("tags", "min")]
    assert problems(TAGS, {"tags": ["a", "b", "c", "d"]}) == [("tags", "max")]
    assert problems(TAGS, {"tags": "a"}) == [("tags", "type")]


def test_array_items_are_never_null() -> None:
    assert problems(TAGS, {"tags": ["a", None]}) == [("tags.1", "type")]


def test_unique_array_compares_items_as_json_values() -> None:
    numbers = {"n": {"type": "array", "items": {"type": "number"}, "unique": True}}
    assert valid(numbers, {"n": [1, 2]}) == {"n": [1, 2]}
    assert problems(numbers, {"n": [1, 2, 1.0]}) == [("n.2", "unique")]
    points = {"p": {"type": "array", "items": {"type": "object"}, "unique": True}}
    assert valid(points, {"p": [{"a": 1}, {"a": True}]})
    assert problems(points, {"p": [{"a": 1, "b": 2}, {"b": 2, "a": 1}]}) == [("p.1", "unique")]


def test_unique_array_compares_datetimes_after_normalizing_them() -> None:
    times = {"at": {"type": "array", "items": {"type": "datetime"}, "unique": True}}
    doc = {"at": ["2026-01-01T08:00:00+08:00", "2026-01-01T00:00:00Z"]}
    assert problems(times, doc) == [("at.1", "unique")]


def test_arrays_of_objects_report_paths_through_both() -> None:
    fields = {
        "lines": {
            "type": "array",
            "items": {"type": "object", "fields": {"qty": {"type": "integer", "min": 1}}},
        }
    }
    assert problems(fields, {"lines": [{"qty": 1}, {"qty": 0}]}) == [("lines.1.qty", "min")]


# -- required, null and defaults --------------------------------------------------------------

TASK = {
    "title": {"type": "string", "required": True},
    "score": {"type": "integer", "default": 0},
    "status": {"type": "enum", "values": ["draft", "published"], "default": "draft"},
    "note": {"type": "string"},
}


def test_required_means_present_and_not_null() -> None:
    assert problems(TASK, {}) == [("title", "required")]
    assert problems(TASK, {"title": None}) == [("title", "required")]


def test_other_fields_may_be_null_or_absent() -> None:
    assert valid(TASK, {"title": "t", "note": None}, apply_defaults=False) == {
        "title": "t",
        "note": None,
    }


def test_defaults_fill_absent_fields_on_create_and_replace_only() -> None:
    assert valid(TASK, {"title": "t"}) == {"title": "t", "score": 0, "status": "draft"}
    assert valid(TASK, {"title": "t"}, apply_defaults=False) == {"title": "t"}


def test_defaults_do_not_replace_an_explicit_null() -> None:
    assert valid(TASK, {"title": "t", "score": None})["score"] is None


def test_a_required_field_with_a_default_is_filled_on_create() -> None:
    fields = {"status": {"type": "string", "required": True, "default": "new"}}
    assert valid(fields, {}) == {"status": "new"}
    assert problems(fields, {}, apply_defaults=False) == [("status", "required")]


def test_nested_defaults_apply_inside_present_objects_and_array_items() -> None:
    fields = {
        "lines": {
            "type": "array",
            "items": {"type": "object", "fields": {"qty": {"type": "integer", "default": 1}}},
        }
    }
    assert valid(fields, {"lines": [{}, {"qty": 5}]}) == {"lines": [{"qty": 1}, {"qty": 5}]}


def test_each_record_gets_its_own_copy_of_a_default() -> None:
    schema = Schema.parse({"tags": {"type": "array", "items": {"type": "string"}, "default": []}})
    first = schema.validate({}, apply_defaults=True)
    first["tags"].append("changed")
    assert schema.validate({}, apply_defaults=True) == {"tags": []}


def test_datetime_defaults_are_normalized_once() -> None:
    schema = Schema.parse({"at": {"type": "datetime", "default": "2026-01-01T08:00:00+08:00"}})
    assert schema.validate({}, apply_defaults=True) == {"at": "2026-01-01T00:00:00.000000Z"}
    assert schema.to_definition()["at"]["default"] == "2026-01-01T00:00:00.000000Z"


# -- the document as a whole ------------------------------------------------------------------


def test_validate_returns_a_new_document_and_leaves_the_input_alone() -> None:
    fields = {"at": {"type": "datetime"}, "meta": {"type": "object"}}
    doc = {"at": "2026-01-01T08:00:00+08:00", "meta": {"a": 1}}
    out = Schema.parse(fields).validate(doc, apply_defaults=True)
    assert out is not doc
    assert out["meta"] is not doc["meta"]
    assert doc["at"] == "2026-01-01T08:00:00+08:00"


def test_undeclared_fields_are_stored_as_given_by_default() -> None:
    doc = {"title": "t", "extra": {"nested": [1, "two", None, 3.5]}}
    assert valid(TASK, doc, apply_defaults=False) == doc


def test_undeclared_fields_are_errors_when_additional_is_false() -> None:
    assert problems(TASK, {"title": "t", "extra": 1}, additional=False) == [
        ("extra", "unknown_field")
    ]


def test_system_field_names_are_reserved() -> None:
    assert problems(TASK, {"title": "t", "_id": "x", "_owner": "u"}) == [
        ("_id", "reserved"),
        ("_owner", "reserved"),
    ]


def test_undeclared_values_must_be_json() -> None:
    doc = {"a": {1, 2}, "b": [math.inf], "c": {"d": 2**64}, "e": {3: "x"}}
    assert problems({}, doc) == [("a", "type"), ("b.0", "format"), ("c.d", "max"), ("e.3", "type")]


def test_nesting_is_limited_even_where_nothing_is_declared() -> None:
    deep: Any = "bottom"
    for _ in range(100_000):  # far past Python's recursion limit
        deep = [deep]
    assert problems({}, {"deep": deep}) == [("deep" + ".0" * 31, "depth")]
    shallow: Any = "bottom"
    for _ in range(31):  # with the document itself, 32 levels
        shallow = [shallow]
    assert valid({}, {"shallow": shallow}) == {"shallow": shallow}


def test_a_document_must_be_an_object() -> None:
    assert problems(TASK, ["title"]) == [("", "type")]


def test_every_problem_is_reported_at_once_up_to_fifty() -> None:
    fields = {"n": {"type": "array", "items": {"type": "integer"}}}
    assert len(problems(fields, {"n": ["x"] * 1000})) == 50


def test_a_validation_error_reads_well() -> None:
    with pytest.raises(ValidationError, match=r"score: expected an integer; title: is required"):
        valid(TASK, {"score": "high"})


# -- definitions ------------------------------------------------------------------------------


def test_the_definition_format_in_yaml() -> None:
    definition = yaml.safe_load(
        """
        title:   {type: string, required: true, min: 1, max: 200, pattern: "^[^<>]*$"}
        score:   {type: integer, min: 0, max: 1000000, default: 0}
        price:   {type: number, min: 0}
        done:    {type: boolean, default: false}
        at:      {type: datetime, default: 2026-01-01T08:00:00+08:00}
        status:  {type: enum, values: [draft, published], default: draft}
        meta:    {type: object, fields: {size: {type: integer}}, additional: true}
        tags:    {type: array, items: {type: string, max: 20}, min: 0, max: 50, unique: true}
        place:   {type: geopoint}
        author:  {type: reference, collection: users}
        """
    )
    schema = Schema.parse(definition, additional=False)
    record = schema.validate({"title": "Hello"}, apply_defaults=True)
    assert record == {
        "title": "Hello",
        "score": 0,
        "done": False,
        "at": "2026-01-01T00:00:00.000000Z",  # YAML reads it as a datetime; stored normalized
        "status": "draft",
    }


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"a": {"type": "text"}}, "a", "unknown type 'text'"),
        ({"a": {}}, "a", "unknown type None"),
        ({"a": "string"}, "a", "a field spec is a mapping"),
        ({"a": {"type": "string", "size": 3}}, "a", "unknown key 'size'"),
        ({"a": {"type": "boolean", "min": 1}}, "a", "unknown key 'min'"),
        ({"a": {"type": "string", "min": 5, "max": 2}}, "a", "min must not be greater than max"),
        ({"a": {"type": "string", "min": -1}}, "a", "min must be a count"),
        ({"a": {"type": "integer", "max": 1.5}}, "a", "max must be an integer"),
        ({"a": {"type": "integer", "max": 2**63}}, "a", "max must be an integer"),
        ({"a": {"type": "number", "min": "0"}}, "a", "min must be a number"),
        ({"a": {"type": "string", "pattern": "("}}, "a", "not a valid regular expression"),
        ({"a": {"type": "string", "pattern": "a" * 513}}, "a", "at most 512 characters"),
        ({"a": {"type": "string", "required": "yes"}}, "a", "required must be true or false"),
        ({"a": {"type": "enum", "values": []}}, "a", "non-empty list"),
        ({"a": {"type": "enum", "values": ["x", "x"]}}, "a", "must not repeat"),
        ({"a": {"type": "enum", "values": [1, 1.0]}}, "a", "must not repeat"),
        ({"a": {"type": "enum", "values": ["x", 1]}}, "a", "all strings or all numbers"),
        ({"a": {"type": "enum", "values": [True, False]}}, "a", "quote yes/no"),
        ({"a": {"type": "enum", "values": [10**400]}}, "a", "all strings or all numbers"),
        ({"a": {"type": "number", "max": 10**400}}, "a", "max must be a number"),
        ({"a": {"type": "array"}}, "a", "arrays need items"),
        ({"a": {"type": "array", "items": {"type": "nope"}}}, "a.*", "unknown type"),
        ({"a": {"type": "array", "items": {"type": "string", "required": True}}}, "a.*", "key"),
        ({"a": {"type": "array", "items": {"type": "string"}, "unique": 1}}, "a", "unique"),
        ({"a": {"type": "object", "fields": []}}, "a", "fields must be a mapping"),
        ({"a": {"type": "object", "fields": {"b": None}}}, "a.b", "a field spec is a mapping"),
        ({"a": {"type": "object", "fields": {"b": {"type": "x"}}}}, "a.b", "unknown type"),
        ({"a": {"type": "object", "additional": "no"}}, "a", "additional must be true"),
        ({"a": {"type": "reference"}}, "a", "collection is required"),
        ({"a": {"type": "reference", "collection": "no such"}}, "a", "not a valid collection"),
        ({"_id": {"type": "string"}}, "_id", "a field name is a letter"),
        ({"my-field": {"type": "string"}}, "my-field", "a field name is a letter"),
        ({"a" * 65: {"type": "string"}}, "a" * 65, "a field name is a letter"),
        ({"a": {"type": "integer", "default": "0"}}, "a", "default is invalid"),
        ({"a": {"type": "integer", "min": 1, "default": 0}}, "a", "default is invalid"),
        ({"a": {"type": "string", "default": None}}, "a", "default must not be null"),
        ({"a": {"type": "datetime", "default": "soon"}}, "a", "default is invalid"),
    ],
)
def test_definition_problems(fields: dict[str, Any], field: str, message: str) -> None:
    found = definition_problems(fields)
    assert any(where == field and message in text for where, text in found), found


def test_definition_errors_list_every_problem() -> None:
    found = definition_problems(
        {"a": {"type": "text"}, "b": {"type": "string", "min": 3, "max": 1}, "c": {"type": "array"}}
    )
    assert [field for field, _ in found] == ["a", "b", "c"]


def test_definition_must_be_a_mapping_and_additional_a_boolean() -> None:
    assert definition_problems(["title"]) == [("", "fields must be a mapping of name to spec")]
    assert definition_problems({}, additional="no") == [("", "additional must be true or false")]


def test_an_object_without_fields_holds_any_json_object() -> None:
    fields = yaml.safe_load("meta: {type: object, fields: }")
    doc = {"meta": {"anything": [1]}}
    assert valid(fields, doc) == doc


def test_no_fields_means_schemaless() -> None:
    schema = Schema.parse(None)
    assert schema.validate({"anything": [1, {"goes": True}]}, apply_defaults=True)
    assert schema.kind_of(("anything",)) is None


def test_declared_nesting_is_limited_too() -> None:
    spec: dict[str, Any] = {"type": "string"}
    for _ in range(40):
        spec = {"type": "object", "fields": {"a": spec}}
    assert any("nested deeper" in message for _, message in definition_problems({"a": spec}))


# -- kinds, definitions and JSON Schema -------------------------------------------------------

KINDS = Schema.parse(
    {
        "title": {"type": "string"},
        "at": {"type": "datetime"},
        "status": {"type": "enum", "values": ["a"]},
        "level": {"type": "enum", "values": [1, 2]},
        "author": {"type": "reference", "collection": "users"},
        "score": {"type": "integer"},
        "price": {"type": "number"},
        "done": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "meta": {"type": "object", "fields": {"size": {"type": "integer"}}},
        "place": {"type": "geopoint"},
    }
)


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (("title",), "string"),
        (("at",), "string"),
        (("status",), "string"),
        (("level",), "number"),
        (("author",), "string"),
        (("score",), "number"),
        (("price",), "number"),
        (("done",), "boolean"),
        (("tags",), "array"),
        (("tags", "*"), "string"),
        (("tags", "0"), "string"),
        (("meta",), "object"),
        (("meta", "size"), "number"),
        (("place",), "object"),
        (("place", "type"), "string"),
        (("place", "coordinates"), "array"),
        (("place", "coordinates", "1"), "number"),
        (("undeclared",), None),
        (("meta", "undeclared"), None),
        (("title", "length"), None),
        (("tags", "first"), None),
        (("meta", "0"), None),
    ],
)
def test_kind_of_tells_the_query_compiler_what_a_path_holds(
    path: tuple[str, ...], kind: str | None
) -> None:
    assert KINDS.kind_of(path) == kind


def test_to_definition_is_normalized_and_round_trips() -> None:
    schema = Schema.parse(
        {
            "title": {"max": 9, "type": "string", "required": True},
            "note": {"type": "string", "required": False},
            "tags": {"type": "array", "items": {"type": "string"}, "unique": False},
            "meta": {"type": "object"},
        },
        additional=False,
    )
    definition = schema.to_definition()
    assert definition == {
        "title": {"type": "string", "required": True, "max": 9},
        "note": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "meta": {"type": "object", "fields": {}, "additional": True},
    }
    assert schema.additional is False
    rebuilt = Schema.parse(json.loads(json.dumps(definition)), additional=schema.additional)
    assert rebuilt.to_definition() == definition


def test_json_schema_of_a_record() -> None:
    schema = Schema.parse(
        {
            "title": {"type": "string", "required": True, "max": 200},
            "status": {"type": "enum", "values": ["draft", "published"], "default": "draft"},
            "tags": {"type": "array", "items": {"type": "string"}, "unique": True},
        },
        additional=False,
    )
    assert schema.to_json_schema() == {
        "type": "object",
        "properties": {
            "title": {"type": "string", "maxLength": 200},
            "status": {
                "type": ["string", "null"],
                "enum": ["draft", "published", None],
                "default": "draft",
            },
            "tags": {"type": ["array", "null"], "items": {"type": "string"}, "uniqueItems": True},
        },
        "required": ["title"],
        "additionalProperties": False,
    }


def test_json_schema_is_json() -> None:
    assert json.loads(json.dumps(KINDS.to_json_schema())) == KINDS.to_json_schema()


# -- properties -------------------------------------------------------------------------------


def json_type_ok(value: Any, name: str) -> bool:
    if name == "null":
        return value is None
    if name == "boolean":
        return isinstance(value, bool)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, {"string": str, "array": list, "object": dict}[name])


def json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return bool(a == b)


RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
ANNOTATIONS = {"description", "default", "format"}


def conforms(value: Any, schema: dict[str, Any] | bool) -> bool:
    """A tiny JSON Schema checker for the keywords `to_json_schema` uses; fails on others."""
    if isinstance(schema, bool):
        return schema
    for keyword, expected in schema.items():
        if not keyword_holds(value, keyword, expected, schema):
            return False
    return True


def keyword_holds(value: Any, keyword: str, expected: Any, schema: dict[str, Any]) -> bool:
    is_str, is_list, is_dict = (
        isinstance(value, str),
        isinstance(value, list),
        isinstance(value, dict),
    )
    is_num = json_type_ok(value, "number")
    match keyword:
        case "type":
            names = expected if isinstance(expected, list) else [expected]
            return any(json_type_ok(value, name) for name in names)
        case "enum":
            return any(json_equal(value, option) for option in expected)
        case "const":
            return json_equal(value, expected)
        case "minLength":
            return not is_str or len(value) >= expected
        case "maxLength":
            return not is_str or len(value) <= expected
        case "pattern":
            return not is_str or re.search(expected, value) is not None
        case "minimum":
            return not is_num or value >= expected
        case "maximum":
            return not is_num or value <= expected
        case "minItems":
            return not is_list or len(value) >= expected
        case "maxItems":
            return not is_list or len(value) <= expected
        case "uniqueItems":
            return not (is_list and expected) or not any(
                json_equal(a, b) for i, a in enumerate(value) for b in value[i + 1 :]
            )
        case "prefixItems":
            return not is_list or all(conforms(v, s) for v, s in zip(value, expected, strict=False))
        case "items":
            skip = len(schema.get("prefixItems", []))
            return not is_list or all(conforms(item, expected) for item in value[skip:])
        case "properties":
            return not is_dict or all(
                conforms(value[k], s) for k, s in expected.items() if k in value
            )
        case "required":
            return not is_dict or all(name in value for name in expected)
        case "additionalProperties":
            known = schema.get("properties", {})
            return not is_dict or all(
                conforms(v, expected) for k, v in value.items() if k not in known
            )
        case _ if keyword in ANNOTATIONS:
            return (
                keyword != "format"
                or expected != "date-time"
                or not is_str
                or bool(RFC3339.fullmatch(value))
            )
    raise AssertionError(f"the test checker does not know {keyword!r}")


NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,4}", fullmatch=True)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)
PATTERNS = ["^[ab]*$", "b", "^$|^a"]


@st.composite
def scalar_specs(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            ["string", "integer", "number", "boolean", "datetime", "enum", "reference", "geopoint"]
        )
    )
    spec: dict[str, Any] = {"type": kind}
    if kind == "string":
        spec["min"] = draw(st.none() | st.integers(0, 2))
        spec["max"] = draw(st.none() | st.integers(2, 6))
        spec["pattern"] = draw(st.none() | st.sampled_from(PATTERNS))
    elif kind in ("integer", "number"):
        spec["min"] = draw(st.none() | st.integers(-10, 0))
        spec["max"] = draw(st.none() | st.integers(0, 10))
    elif kind == "enum":
        spec["values"] = draw(
            st.lists(st.text("ab", max_size=2), min_size=1, max_size=3, unique=True)
            | st.lists(st.integers(-3, 3), min_size=1, max_size=3, unique=True)
        )
    elif kind == "reference":
        spec["collection"] = "users"
    return {key: value for key, value in spec.items() if value is not None}


def field_specs() -> st.SearchStrategy[dict[str, Any]]:
    def containers(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
        objects = st.builds(
            lambda fields, additional: {
                "type": "object",
                "fields": fields,
                "additional": additional,
            },
            st.dictionaries(NAMES, with_required(inner), max_size=3),
            st.booleans(),
        )
        arrays = st.builds(
            lambda items, high, unique: {
                "type": "array",
                "items": items,
                "max": high,
                "unique": unique,
            },
            inner,
            st.integers(0, 4),
            st.booleans(),
        )
        return objects | arrays

    return st.recursive(scalar_specs(), containers, max_leaves=6)


def with_required(specs: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda spec, required: {**spec, "required": required}, specs, st.booleans())


def values_for(spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Mostly fitting values for a field, sometimes any JSON at all."""
    kind = spec["type"]
    if kind == "string":
        fitting: st.SearchStrategy[Any] = st.text("ab<", max_size=7)
    elif kind == "integer":
        fitting = st.integers(-12, 12)
    elif kind == "number":
        fitting = st.integers(-12, 12) | st.floats(-12, 12)
    elif kind == "boolean":
        fitting = st.booleans()
    elif kind == "datetime":
        fitting = st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.isoformat())
    elif kind == "enum":
        fitting = st.sampled_from(spec["values"])
    elif kind == "reference":
        fitting = st.from_regex(r"[A-Za-z0-9_-]{1,8}", fullmatch=True)
    elif kind == "geopoint":
        fitting = st.builds(
            lambda lng, lat: {"type": "Point", "coordinates": [lng, lat]},
            st.floats(-180, 180),
            st.floats(-90, 90),
        )
    elif kind == "array":
        fitting = st.lists(values_for(spec["items"]), max_size=spec["max"] + 1)
    else:
        fitting = object_values(spec["fields"], spec["additional"])
    return st.one_of(fitting, fitting, fitting, JSON)


def object_values(fields: dict[str, Any], additional: bool) -> st.SearchStrategy[Any]:
    present = {name: values_for(spec) for name, spec in fields.items() if spec.get("required")}
    optional = {
        name: st.none() | values_for(spec)
        for name, spec in fields.items()
        if not spec.get("required")
    }
    declared = st.fixed_dictionaries(present, optional=optional)
    if not additional:
        return declared
    extra = st.dictionaries(NAMES.filter(lambda name: name not in fields), JSON, max_size=2)
    return st.builds(lambda a, b: {**b, **a}, declared, extra)


SCHEMAS = st.builds(
    lambda fields, additional: (fields, additional),
    st.dictionaries(NAMES, with_required(field_specs()), max_size=4),
    st.booleans(),
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_accepted_documents_fit_the_json_schema(data: st.DataObject) -> None:
    fields, additional = data.draw(SCHEMAS)
    schema = Schema.parse(fields, additional=additional)
    doc = data.draw(object_values(fields, additional) | JSON)
    outcome = validate_or_problems(schema, doc)
    if isinstance(outcome, list):
        assert 0 < len(outcome) <= 50
    else:
        assert conforms(outcome, schema.to_json_schema())


def validate_or_problems(schema: Schema, doc: Any) -> dict[str, Any] | list[dict[str, str]]:
    try:
        return schema.validate(doc, apply_defaults=True)
    except ValidationError as error:
        return error.problems


@settings(max_examples=200)
@given(SCHEMAS)
def test_definitions_round_trip(fields_and_additional: tuple[dict[str, Any], bool]) -> None:
    fields, additional = fields_and_additional
    schema = Schema.parse(fields, additional=additional)
    definition = json.loads(json.dumps(schema.to_definition()))
    assert Schema.parse(definition, additional=additional).to_definition() == definition


@given(JSON)
def test_any_json_is_either_a_record_or_a_validation_error(doc: Any) -> None:
    for schema in (KINDS, Schema.parse({}, additional=False)):
        outcome = validate_or_problems(schema, doc)
        assert isinstance(outcome, dict | list)

"""check_shape on what Python code (functions, hooks) may hand it, not only parsed JSON."""

from __future__ import annotations

from typing import Any

import pytest

from minibase.config import Settings
from minibase.data.shape import check_shape
from minibase.errors import ApiError


def test_names_that_are_not_text_are_left_to_the_schema() -> None:
    check_shape({"a": {1: "x", "b": 2}}, Settings())

    with pytest.raises(ApiError) as caught:
        check_shape({"a": {1: "x", "b" * 129: 2}}, Settings())
    assert caught.value.details == {"limit": "record_max_name_length", "max": 128, "path": "a"}


def test_a_container_holding_itself_ends_the_walk() -> None:
    loop: list[Any] = []
    loop.append(loop)
    check_shape({"loop": loop}, Settings())  # past the schema's depth: the schema refuses it

    cycle: dict[str, Any] = {}
    cycle["again"] = cycle
    check_shape({"cycle": cycle}, Settings())

"""Ids are unique, 26 url-safe characters, and sort in the order they were made."""

from __future__ import annotations

import re

from minibase.clock import FrozenClock
from minibase.ids import IdGenerator


def test_ids_sort_in_creation_order_even_within_one_millisecond() -> None:
    clock = FrozenClock()
    ids = IdGenerator(clock)
    made = []
    for step in range(3000):
        if step % 7 == 0:
            clock.advance(milliseconds=1)
        made.append(ids.new())
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert all(re.fullmatch(r"[0-9a-hjkmnp-tv-z]{26}", i) for i in made)


def test_a_clock_that_goes_back_does_not_break_the_order() -> None:
    clock = FrozenClock()
    ids = IdGenerator(clock)
    first = ids.new()
    clock.advance(seconds=-5)
    assert ids.new() > first

"""Ids are unique, 26 url-safe characters, and sort in the order they were made; request ids
are unique too, in every worker process."""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from minibase.clock import FrozenClock
from minibase.http.middleware import RequestIds
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


def _in_a_forked_child(make: Callable[[], str]) -> str:
    """What `make` returns in a child process forked now (as server workers are)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child
        os.write(write, make().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as answer:
        return answer.read()


def test_forked_processes_never_make_the_same_id() -> None:
    """Randomness is read in batches: a forked worker must not reuse its parent's."""
    clock = FrozenClock()
    ids = IdGenerator(clock)
    ids.new()  # the batch is read now, before the fork
    clock.advance(milliseconds=1)
    in_child = _in_a_forked_child(ids.new)
    assert ids.new() != in_child


def test_request_ids_are_unique_in_forked_workers_too() -> None:
    ids = RequestIds()
    made = [ids.new() for _ in range(1000)]
    assert len(set(made)) == len(made)
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in made)
    in_child = _in_a_forked_child(ids.new)
    assert in_child[:8] != made[0][:8]  # another process: another prefix
    assert in_child not in made
    assert ids.new() != in_child

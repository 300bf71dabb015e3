"""The paths of `expand`, checked against the schemas when the request arrives.

    expand=author,comments_via_post.author,items.sku

A path is steps joined by dots. A step is a reference field of the collection, written as its
dotted path (`author`; `items.sku` for the `sku` of each item of an array), or a back-relation
`<collection>_via_<field>`: the records of that collection whose reference field points at the
record. Each step leads to the collection it names, where the next step is read. A path that
names no such step is refused (400 `records.invalid_expand`) with the closest valid name, as
filters are (data/known_paths.py): an expand that found nothing would look like missing data.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from minibase.errors import ApiError
from minibase.store.collections import Collection

MAX_PATHS = 10
MAX_STEPS = 6
MAX_SEGMENTS = MAX_STEPS * 16  # a step's field path has at most 16 names
VIA = "_via_"
# one name between dots: a field's, or a back-relation's (a collection, _via_, a field)
NAME = "[A-Za-z][A-Za-z0-9_]{0,127}"
_NAME = re.compile(NAME)
Path = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Step:
    """One step of an expand path, from the records of one collection to those of `source`."""

    name: str  # as written, the key in `_expand`: "author", "items.sku", "comments_via_post"
    source: Collection  # the collection whose records the step brings
    path: Path  # the reference field ("*": each item of an array): the parent's, or if
    back: bool  # a back-relation, the field of `source` that points at the parent

    @property
    def many(self) -> bool:
        """Does the step bring a list (a back-relation, references in an array)?"""
        return self.back or "*" in self.path


@dataclass(slots=True)
class ExpandNode:
    """A step and the steps that go on from it: paths sharing a start are read once."""

    step: Step
    then: dict[str, ExpandNode] = field(default_factory=dict)


def invalid_expand(message: str, **details: Any) -> ApiError:
    return ApiError("records.invalid_expand", 400, message, details)


def parse_expand(text: str | None) -> tuple[str, ...]:
    """The paths of an `expand` parameter, each once in the order given; only their form is
    checked here (the schemas are when the request runs: `plan_expand`)."""
    if not text:
        return ()
    paths = text.split(",")
    if len(paths) > MAX_PATHS:
        raise invalid_expand(f"expand names at most {MAX_PATHS} paths", paths=len(paths))
    for path in paths:
        names = path.split(".")
        if len(names) > MAX_SEGMENTS or not all(_NAME.fullmatch(name) for name in names):
            raise invalid_expand(
                f"expand {path!r} is not a path: reference fields and back-relations"
                " (comments_via_post) joined by dots, paths by commas",
                expand=path,
            )
    return tuple(dict.fromkeys(paths))


def plan_expand(
    collections: Sequence[Collection], root: Collection, paths: Sequence[str]
) -> tuple[ExpandNode, ...]:
    """The steps of every path, merged into a tree (`author` and `author.company` read the
    authors once); 400 `records.invalid_expand` for the first path that cannot be followed."""
    by_name = {collection.name.lower(): collection for collection in collections}
    top: dict[str, ExpandNode] = {}
    for path in paths:
        level = top
        for step in _steps(by_name, root, path):
            node = level.get(step.name)
            if node is None:
                node = level[step.name] = ExpandNode(step)
            level = node.then
    return tuple(top.values())


def _steps(by_name: Mapping[str, Collection], root: Collection, path: str) -> list[Step]:
    names = path.split(".")
    steps: list[Step] = []
    at, current = 0, root
    while at < len(names):
        if len(steps) == MAX_STEPS:
            raise invalid_expand(
                f"expand {path!r} goes more than {MAX_STEPS} steps deep", expand=path
            )
        step = _reference(by_name, current, names, at, path) or _back_relation(
            by_name, current, names, at
        )
        if step is None:
            raise _unknown_step(by_name, current, names, at, path)
        steps.append(step)
        at += step.name.count(".") + 1
        current = step.source
    return steps


def _named(path: Path) -> Path:
    """A reference path as written in expand: its names without the "*" of array items."""
    return tuple(name for name in path if name != "*")


def _reference(
    by_name: Mapping[str, Collection],
    current: Collection,
    names: Sequence[str],
    at: int,
    path: str,
) -> Step | None:
    for field_path, target_name in current.schema.references():
        written = _named(field_path)
        if tuple(names[at : at + len(written)]) != written:
            continue
        target = by_name.get(target_name.lower())
        if target is None:  # declared before its collection was made: holds no value yet
            raise invalid_expand(
                f"expand {path!r}: {current.name}.{'.'.join(written)} points at"
                f" {target_name}, which does not exist",
                expand=path,
            )
        return Step(".".join(written), target, field_path, back=False)
    return None


def _back_relation(
    by_name: Mapping[str, Collection], current: Collection, names: Sequence[str], at: int
) -> Step | None:
    """`<collection>_via_<field>`: a collection name may hold `_via_` too, so each place
    it appears is tried."""
    first = names[at]
    start = first.find(VIA)
    while start > 0:
        source = by_name.get(first[:start].lower())
        if source is not None:
            field_path = _pointing_at(source, current, first[start + len(VIA) :], names[at + 1 :])
            if field_path is not None:
                name = ".".join(names[at : at + len(_named(field_path))])
                return Step(name, source, field_path, back=True)
        start = first.find(VIA, start + 1)
    return None


def _pointing_at(
    source: Collection, target: Collection, first: str, rest: Sequence[str]
) -> Path | None:
    """The reference field of `source` to `target` written `first`, or `first.<rest...>`."""
    for field_path, target_name in source.schema.references():
        written = _named(field_path)
        if (
            target_name.lower() == target.name.lower()
            and written[0] == first
            and tuple(rest[: len(written) - 1]) == written[1:]
        ):
            return field_path
    return None


def step_names(by_name: Mapping[str, Collection], collection: Collection) -> list[str]:
    """Every first step an expand of `collection` may take: its reference fields, then the
    back-relations of the collections that reference it."""
    references = sorted(".".join(_named(path)) for path, _ in collection.schema.references())
    back = sorted(
        f"{source.name}{VIA}{'.'.join(_named(path))}"
        for source in by_name.values()
        for path, target in source.schema.references()
        if target.lower() == collection.name.lower()
    )
    return references + back


def _unknown_step(
    by_name: Mapping[str, Collection],
    current: Collection,
    names: Sequence[str],
    at: int,
    path: str,
) -> ApiError:
    valid = step_names(by_name, current)
    best, best_ratio = None, 0.6  # difflib.get_close_matches' cutoff
    for candidate in valid:
        written = ".".join(names[at : at + candidate.count(".") + 1])
        ratio = difflib.SequenceMatcher(None, written, candidate).ratio()
        if ratio > best_ratio:
            best, best_ratio = candidate, ratio
    type_name = current.schema.type_at((names[at],))
    if type_name not in (None, "object", "array", "reference"):
        article = "an" if type_name[0] in "aeiou" else "a"
        reason = f"{current.name}.{names[at]} is {article} {type_name} field, not a reference"
    else:
        reason = f"{current.name} has no reference field or back-relation {names[at]!r}"
    suggestion = None
    if best is not None:
        suggestion = ".".join((*names[:at], best, *names[at + best.count(".") + 1 :]))
        reason += f" (did you mean {suggestion!r}?)"
    elif valid:
        reason += f"; it has {', '.join(valid[:10])}"
    else:
        reason += "; it has none"
    return invalid_expand(
        f"expand {path!r}: {reason}", expand=path, step=names[at], did_you_mean=suggestion
    )

"""Prometheus' text exposition format, version 0.0.4: metric families rendered as text.

https://prometheus.io/docs/instrumenting/exposition_formats/ — one `# HELP` and one `# TYPE`
line per family, then one line per sample: `name{label="value",...} number`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Kind = Literal["counter", "gauge", "histogram"]
Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sample:
    labels: Labels
    value: float
    suffix: str = ""  # a histogram's `_bucket`, `_sum` or `_count`


@dataclass
class Family:
    name: str
    kind: Kind
    help: str
    samples: list[Sample] = field(default_factory=list)

    def add(self, value: float, labels: Labels = (), suffix: str = "") -> None:
        self.samples.append(Sample(labels, value, suffix))


def gauge(name: str, help: str, value: float, labels: Labels = ()) -> Family:
    """A family of one sample."""
    family = Family(name, "gauge", help)
    family.add(value, labels)
    return family


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{name}="{_escape_label(value)}"' for name, value in labels) + "}"


def render(families: Iterable[Family]) -> str:
    lines: list[str] = []
    for family in families:
        lines.append(f"# HELP {family.name} {_escape_help(family.help)}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        lines.extend(
            f"{family.name}{sample.suffix}{_labels(sample.labels)} {_number(sample.value)}"
            for sample in family.samples
        )
    return "\n".join(lines) + "\n"


def cumulative(counts: Sequence[int]) -> list[int]:
    """Per-bucket counts as Prometheus wants them: each bucket counts everything at or below
    its bound."""
    total, out = 0, []
    for count in counts:
        total += count
        out.append(total)
    return out

"""The results: one outcome per dataset, run, scenario and server, as markdown tables (the
median of the runs, and each run's ratio) and a JSON file."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loadgen import Measurement
from scenarios import Scenario

# Every target, in the tables' order, and its column label.
LABELS = {
    "minibase": "minibase",
    "pocketbase": "PocketBase",
    "pocketbase+analyze": "PB+ANALYZE",
    "bare": "bare",
}
POCKETBASES = ("pocketbase", "pocketbase+analyze")


@dataclass
class Outcome:
    scenario: Scenario
    target: str  # a key of LABELS
    dataset: str = "small"
    run: int = 1
    measurement: Measurement | None = None
    failure: str | None = None  # a failed check or wrk error: the run was not measured
    profile: dict[str, Any] | None = None
    costs: dict[str, float] | None = None  # --counters: CPU µs, system calls, switches a request

    @property
    def flagged(self) -> bool:
        return self.failure is not None or (
            self.measurement is not None and self.measurement.error_count > 0
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "run": self.run,
            "scenario": self.scenario.key,
            "title": self.scenario.title,
            "target": self.target,
            "measurement": self.measurement.to_json() if self.measurement else None,
            "failure": self.failure,
            "profile": self.profile,
            "costs": self.costs,
        }


def _rps(outcome: Outcome | None) -> float | None:
    """The outcome's req/s, or None if it failed or saw errors."""
    if outcome is None or outcome.flagged or outcome.measurement is None:
        return None
    return outcome.measurement.rps


def _p99(outcome: Outcome | None) -> float | None:
    if outcome is None or outcome.flagged or outcome.measurement is None:
        return None
    return outcome.measurement.p99


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _ratios(
    mine: list[Outcome | None],
    theirs: list[Outcome | None],
    value: Callable[[Outcome | None], float | None],
) -> list[float | None]:
    """Run by run, minibase's value over the other target's."""
    return [_ratio(value(a), value(b)) for a, b in zip(mine, theirs, strict=True)]


def _times(values: list[float | None]) -> str:
    """The median ratio, then each run's (in run order) when there are several."""
    median = _median(values)
    if median is None:
        return "n/a"
    text = f"{median:.2f}x"
    if len(values) > 1:
        text += " (" + ", ".join("-" if v is None else f"{v:.2f}" for v in values) + ")"
    return text


def _rps_cell(outcomes: list[Outcome | None]) -> str:
    if all(o is None for o in outcomes):
        return "not run"
    median = _median([_rps(o) for o in outcomes])
    flagged = sum(1 for o in outcomes if o is not None and o.flagged)
    text = "FAILED" if median is None else f"{median:,.0f}"
    if flagged and median is not None:
        text += f" ⚠ {flagged} run(s) flagged"
    return text


def markdown_table(
    outcomes: list[Outcome],
    scenarios: tuple[Scenario, ...],
    datasets: dict[str, str],
    runs: int,
    postgres: bool = False,
) -> str:
    """One table per dataset (`datasets`: name -> description): each target's req/s (the
    median of the runs), minibase's req/s over each other target's (the median, then each
    run's), its p99 over PocketBase's, and in how many runs it met issue 19's goal against
    PocketBase both as shipped and with statistics (`postgres`: minibase on PostgreSQL, whose
    goal is that reads do not fall behind, at least 1x)."""
    by_key = {(o.dataset, o.run, o.scenario.key, o.target): o for o in outcomes}
    present = [t for t in LABELS if any(o.target == t for o in outcomes)]
    others = [t for t in present if t != "minibase"]
    header = ["scenario", *(f"{LABELS[t]} req/s" for t in present)]
    if "minibase" in present:
        header += [f"÷ {LABELS[t]}" for t in others]
        if "pocketbase" in present:
            header += ["p99 ÷ PocketBase", "issue 19 goal (÷ PocketBase, both)"]
    sections = []
    every = range(1, runs + 1)
    for dataset, description in datasets.items():
        lines = [
            f"**{description}** (req/s: median of {runs} run(s))",
            "",
            "| " + " | ".join(header) + " |",
            "|---|" + "---:|" * (len(header) - 2) + "---|",
        ]
        for scenario in scenarios:
            got = {t: [by_key.get((dataset, r, scenario.key, t)) for r in every] for t in present}
            cells = [scenario.title, *(_rps_cell(got[t]) for t in present)]
            if "minibase" in got:
                mine = got["minibase"]
                cells += [_times(_ratios(mine, got[t], _rps)) for t in others]
                if "pocketbase" in got:
                    cells.append(_times(_ratios(mine, got["pocketbase"], _p99)))
                    against = [_ratios(mine, got[t], _rps) for t in POCKETBASES if t in got]
                    ratios = [list(run) for run in zip(*against, strict=True)]
                    cells.append(_goal(scenario, ratios, postgres))
            lines.append("| " + " | ".join(cells) + " |")
        sections.append("\n".join(lines))
    sections.append(
        "÷ X = minibase's req/s over X's (higher is better; ÷ bare is the share of the ceiling);"
        " p99 ÷ PocketBase: lower is better. PB+ANALYZE: PocketBase after ANALYZE (planner"
        " statistics)."
    )
    return "\n\n".join(sections)


def _goal(scenario: Scenario, ratios: list[list[float | None]], postgres: bool = False) -> str:
    """`ratios`: per run, minibase's ratio to each PocketBase; a run meets the goal when every
    one is at least the scenario's goal (on PostgreSQL: 1x for reads, none for writes)."""
    goal = scenario.goal
    if postgres:
        if scenario.writes:
            return "none on PostgreSQL (reads only)"
        goal = 1.0
    measured = [r for r in ratios if r and all(v is not None for v in r)]
    if not measured:
        return "n/a"
    met = sum(1 for r in measured if all(v is not None and v >= goal for v in r))
    verdict = "met" if met == len(ratios) else "**not met**"
    return f"≥{goal:g}x: {verdict} ({met}/{len(ratios)} runs)"


def detail_table(outcomes: list[Outcome]) -> str:
    """Every run: req/s, p50, p99, errors and the machine's load average around it."""
    header = (
        f"{'dataset':<10} {'run':>3} {'scenario':<14} {'server':<19} {'req/s':>9} {'p50 ms':>8}"
        f" {'p99 ms':>9} {'errors':>7} {'load 1m':>12}"
    )
    lines = [header, "-" * len(header)]
    for o in outcomes:
        where = f"{o.dataset:<10} {o.run:>3} {o.scenario.key:<14} {o.target:<19}"
        if o.measurement is None:
            lines.append(f"{where} FAILED: {o.failure}")
            continue
        m = o.measurement
        load = f"{m.load_before:.1f}->{m.load_after:.1f}"
        lines.append(
            f"{where} {m.rps:>9,.0f} {m.p50:>8.1f} {m.p99:>9.1f} {m.error_count:>7} {load:>12}"
        )
        if m.error_count:
            lines.append(f"{'':<49} errors: {m.errors}")
    return "\n".join(lines)

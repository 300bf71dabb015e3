"""The results: one outcome per scenario and server, as a markdown table and a JSON file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loadgen import Measurement
from scenarios import Scenario

WITHIN = 2.0  # the target: within 2x of PocketBase


@dataclass
class Outcome:
    scenario: Scenario
    target: str  # "minibase" or "pocketbase"
    measurement: Measurement | None = None
    failure: str | None = None  # a failed check or wrk error: the run was not measured
    profile: dict[str, Any] | None = None

    @property
    def flagged(self) -> bool:
        return self.failure is not None or (
            self.measurement is not None and self.measurement.error_count > 0
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario.key,
            "title": self.scenario.title,
            "target": self.target,
            "measurement": self.measurement.to_json() if self.measurement else None,
            "failure": self.failure,
            "profile": self.profile,
        }


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _times(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def _cell(outcome: Outcome | None, what: str) -> tuple[float | None, str]:
    if outcome is None:
        return None, "not run"
    if outcome.failure is not None:
        return None, "FAILED"
    assert outcome.measurement is not None
    m = outcome.measurement
    value = m.rps if what == "rps" else m.p99
    text = f"{value:,.0f}" if what == "rps" else f"{value:,.1f} ms"
    if m.error_count:
        text += f" ⚠ {m.error_count:,} errors"
    return value, text


def markdown_table(outcomes: list[Outcome], scenarios: tuple[Scenario, ...]) -> str:
    by_key = {(o.scenario.key, o.target): o for o in outcomes}
    lines = [
        "| scenario | minibase req/s | PocketBase req/s | req/s ratio | minibase p99"
        " | PocketBase p99 | p99 ratio | within 2x |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for scenario in scenarios:
        mb_rps, mb_rps_text = _cell(by_key.get((scenario.key, "minibase")), "rps")
        pb_rps, pb_rps_text = _cell(by_key.get((scenario.key, "pocketbase")), "rps")
        mb_p99, mb_p99_text = _cell(by_key.get((scenario.key, "minibase")), "p99")
        pb_p99, pb_p99_text = _cell(by_key.get((scenario.key, "pocketbase")), "p99")
        rps_ratio, p99_ratio = _ratio(mb_rps, pb_rps), _ratio(mb_p99, pb_p99)
        if rps_ratio is None or p99_ratio is None:
            verdict = "n/a"
        elif rps_ratio >= 1 / WITHIN and p99_ratio <= WITHIN:
            verdict = "yes" if scenario.in_target else "yes (reference)"
        else:
            verdict = "**no**" if scenario.in_target else "no (reference)"
        lines.append(
            f"| {scenario.title} | {mb_rps_text} | {pb_rps_text} | {_times(rps_ratio)}"
            f" | {mb_p99_text} | {pb_p99_text} | {_times(p99_ratio)} | {verdict} |"
        )
    lines.append("")
    lines.append(
        "req/s ratio = minibase ÷ PocketBase (higher is better); "
        "p99 ratio = minibase ÷ PocketBase (lower is better)."
    )
    return "\n".join(lines)


def detail_table(outcomes: list[Outcome]) -> str:
    """Every run: req/s, p50, p99, errors and the machine's load average around it."""
    header = (
        f"{'scenario':<14} {'server':<11} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>9}"
        f" {'errors':>7} {'load 1m':>12}"
    )
    lines = [header, "-" * len(header)]
    for o in outcomes:
        if o.measurement is None:
            lines.append(f"{o.scenario.key:<14} {o.target:<11} FAILED: {o.failure}")
            continue
        m = o.measurement
        load = f"{m.load_before:.1f}->{m.load_after:.1f}"
        lines.append(
            f"{o.scenario.key:<14} {o.target:<11} {m.rps:>9,.0f} {m.p50:>8.1f} {m.p99:>9.1f}"
            f" {m.error_count:>7} {load:>12}"
        )
        if m.error_count:
            lines.append(f"{'':<26} errors: {m.errors}")
    return "\n".join(lines)

"""What the sandbox records and breaks on purpose: call counts, outages, per-minute quotas."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

OUTAGE_MODES = ("timeout", "http_500", "bad_json", "system_busy")


@dataclass
class Outage:
    """The next `remaining` calls to one platform fail in `mode`."""

    mode: str
    remaining: int
    seconds: float  # how long a "timeout" holds the request before answering


@dataclass
class Faults:
    outages: dict[str, Outage] = field(default_factory=dict)
    quotas: dict[tuple[str, str], int] = field(default_factory=dict)
    _minutes: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    calls: dict[str, Counter[str]] = field(default_factory=dict)

    def record_call(self, platform: str, path: str) -> None:
        self.calls.setdefault(platform, Counter())[path] += 1

    def take_outage(self, platform: str) -> Outage | None:
        """The outage that applies to this call, if any; each call uses one up."""
        outage = self.outages.get(platform)
        if outage is None:
            return None
        outage.remaining -= 1
        if outage.remaining <= 0:
            del self.outages[platform]
        return outage

    def over_quota(self, platform: str, appid: str, now: float) -> bool:
        """Count a call against the app's per-minute quota; True when it goes over."""
        limit = self.quotas.get((platform, appid))
        if limit is None:
            return False
        minute = int(now // 60)
        seen_minute, count = self._minutes.get((platform, appid), (minute, 0))
        count = count + 1 if seen_minute == minute else 1
        self._minutes[(platform, appid)] = (minute, count)
        return count > limit

    def set_quota(self, platform: str, appid: str, per_minute: int | None) -> None:
        key = (platform, appid)
        self._minutes.pop(key, None)
        if per_minute is None:
            self.quotas.pop(key, None)
        else:
            self.quotas[key] = per_minute

    def call_counts(self) -> dict[str, dict[str, int]]:
        return {platform: dict(paths) for platform, paths in sorted(self.calls.items())}

"""Refused payment reports are kept for admins at most N a minute: the cap itself."""

from __future__ import annotations

from minibase.pay.rate_cap import RateCap


def test_a_cap_allows_its_limit_per_window_then_starts_again() -> None:
    now = [100.0]
    cap = RateCap(3, 60.0, lambda: now[0])
    assert [cap.allow() for _ in range(5)] == [True, True, True, False, False]
    now[0] += 59.9
    assert not cap.allow()
    now[0] += 0.2
    assert [cap.allow() for _ in range(4)] == [True, True, True, False]

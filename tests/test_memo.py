"""Bounded memory: what the server keeps worked out (statements, parsed queries, tokens)."""

from __future__ import annotations

from minibase.memo import remember


def test_a_kept_dict_never_outgrows_its_bound_and_keeps_the_newest() -> None:
    kept: dict[int, str] = {}
    for n in range(10):
        assert remember(kept, n, str(n), 4) == str(n)
        assert len(kept) <= 4
        assert kept[n] == str(n)
    assert kept == {8: "8", 9: "9"}  # cleared whole at the fifth, and again at the ninth

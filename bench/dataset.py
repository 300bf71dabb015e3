"""The records both servers hold: the same 10,000 per collection, from a fixed seed."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any

RECORDS = 10_000
SEED = 20261124
BODY_CHARS = 200
MAX_SCORE = 1000


@dataclass(frozen=True)
class Dataset:
    """Records as plain dicts of the user fields: title, body, score (owner is added per server,
    since each server gives the bench user its own id)."""

    records: tuple[dict[str, Any], ...]

    @classmethod
    def generate(cls, count: int = RECORDS, seed: int = SEED) -> Dataset:
        rng = random.Random(seed)
        alphabet = string.ascii_letters + string.digits + " "
        records = tuple(
            {
                "title": f"record {i}",
                "body": "".join(rng.choices(alphabet, k=BODY_CHARS)),
                "score": rng.randint(0, MAX_SCORE),
            }
            for i in range(count)
        )
        return cls(records)

    def owned_by(self, owner: str) -> list[dict[str, Any]]:
        return [{**record, "owner": owner} for record in self.records]

    def top_scores(self, above: int, count: int) -> list[int]:
        """What a correct `score > above, sort -score, limit count` list returns, as scores."""
        scores = sorted((r["score"] for r in self.records if r["score"] > above), reverse=True)
        return scores[:count]


def new_record(owner: str) -> dict[str, Any]:
    """The body of the create scenario; score 0 keeps it out of the list scenario's filter."""
    return {
        "title": "created by the benchmark",
        "body": "x" * BODY_CHARS,
        "score": 0,
        "owner": owner,
    }

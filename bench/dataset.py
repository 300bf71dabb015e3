"""The records every server holds, from a fixed seed: `small` (one user, 10,000 records a
collection, the bench's first dataset) and `realistic` (1,000 users owning about 100 each);
and, for growth (`--dataset growth-10k --dataset realistic --dataset growth-1m`), the same
~100 records a user at 10,000 and 1,000,000 records."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any

RECORDS = 10_000
SEED = 20261124
BODY_CHARS = 200
MAX_SCORE = 1000
CREATED_TITLE = "created by the benchmark"

# name -> (records a collection, users)
SIZES = {
    "small": (RECORDS, 1),
    "realistic": (100_000, 1000),
    "growth-10k": (10_000, 100),
    "growth-1m": (1_000_000, 10_000),
}
DEFAULT = ("small", "realistic")  # what a run measures unless told


@dataclass(frozen=True)
class Dataset:
    """Records as plain dicts of the user fields: title, body, score. Their owners are indexes
    into the dataset's users (`owners[i]` owns `records[i]`); each server gives its users its
    own ids, so the owner field is filled in per server (`with_owners`)."""

    name: str
    users: int
    records: tuple[dict[str, Any], ...]
    owners: tuple[int, ...]

    @classmethod
    def named(cls, name: str) -> Dataset:
        count, users = SIZES[name]
        return cls.generate(count, users=users, name=name)

    @classmethod
    def generate(
        cls, count: int = RECORDS, seed: int = SEED, *, users: int = 1, name: str = "small"
    ) -> Dataset:
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
        # Owners from a second generator: records are the same whatever the number of users.
        owner_rng = random.Random(seed + 1)
        owners = tuple(owner_rng.randrange(users) for _ in range(count))
        return cls(name, users, records, owners)

    @property
    def description(self) -> str:
        users = "1 user" if self.users == 1 else f"{self.users:,} users"
        return f"{self.name}: {users}, {len(self.records):,} records a collection"

    def with_owners(self, user_ids: list[str]) -> list[dict[str, Any]]:
        """The records with `owner` set to their user's id on one server (ids in user order)."""
        return [
            {**record, "owner": user_ids[owner]}
            for record, owner in zip(self.records, self.owners, strict=True)
        ]

    def top_scores(self, above: int, count: int, owner: int = 0) -> list[int]:
        """What a correct `score > above, sort -score, limit count` list returns to the user
        `owner` (an index), as scores."""
        scores = sorted(
            (
                r["score"]
                for r, o in zip(self.records, self.owners, strict=True)
                if o == owner and r["score"] > above
            ),
            reverse=True,
        )
        return scores[:count]


def new_record(owner: str) -> dict[str, Any]:
    """The body of the create scenario; score 0 keeps it out of the list scenario's filter."""
    return {
        "title": CREATED_TITLE,
        "body": "x" * BODY_CHARS,
        "score": 0,
        "owner": owner,
    }

"""Admins look at the job queue: a list filtered by name counts only the jobs of that name."""

from __future__ import annotations

import httpx

from minibase.services import Services
from minibase.testing.plugin import Actor


async def test_the_counts_follow_the_name_filter(
    client: httpx.AsyncClient, admin: Actor, services: Services
) -> None:
    mails = [await services.jobs.enqueue("mail.send", {"i": i}) for i in range(3)]
    await services.jobs.enqueue("sms.send", {})
    await services.jobs.cancel(mails[0].id)

    listed = await client.get(
        "/api/admin/jobs", headers=admin.headers, params={"name": "mail.send"}
    )
    assert listed.status_code == 200, listed.text
    assert [job["id"] for job in listed.json()["items"]] == [job.id for job in reversed(mails)]
    assert listed.json()["counts"] == {
        "queued": 2, "running": 0, "succeeded": 0, "dead": 0, "cancelled": 1,
    }  # fmt: skip
    everything = await client.get("/api/admin/jobs", headers=admin.headers)
    assert everything.json()["counts"]["queued"] == 3
    queued = await client.get(
        "/api/admin/jobs", headers=admin.headers, params={"name": "mail.send", "state": "queued"}
    )
    assert len(queued.json()["items"]) == 2
    assert queued.json()["counts"]["cancelled"] == 1  # counts are by state: all of them

"""Record hooks: `before` runs inside the write's transaction and may change or refuse the
record; `after` runs once the write has committed, as a durable job that is retried."""

from __future__ import annotations

import httpx
import pytest
from tests.functions.conftest import run_jobs

from minibase.services import Services
from minibase.testing.plugin import Actor, MakeUser

FUNCTIONS = """
    from minibase.functions import ApiError, after, before

    @before("posts", "create", "update")
    async def tidy(ctx, event):
        title = event.record.get("title", "")
        if title.isupper() and len(title) > 3:
            raise ApiError("posts.shouting", 400, "please do not shout")
        event.record["slug"] = title.lower().replace(" ", "-")
        event.record["_owner"] = "someone-else"   # system fields cannot be changed by hooks

    @before("posts", "delete")
    async def keep_pinned(ctx, event):
        if event.record.get("pinned"):
            raise ApiError("posts.pinned", 409, "unpin it first")

    @after("posts", "create")
    async def count_posts(ctx, event):
        await ctx.records_as_admin.create("audit", {"post": event.record["_id"],
                                                    "by": event.caller.id})

    @after("posts", "update")
    async def flaky(ctx, event):
        raise RuntimeError("the mail server is down")

    @before("strict", "create")
    async def break_schema(ctx, event):
        event.record["n"] = "not a number"

    @before("sprawl", "create")
    async def sprawl(ctx, event):
        event.record["index"] = {f"word{i}": i for i in range(2000)}
"""


@pytest.fixture
async def posts(client: httpx.AsyncClient, admin: Actor) -> None:
    collections = (
        ("posts", {}),
        ("audit", {}),
        ("strict", {"n": {"type": "integer"}}),
        ("sprawl", {}),
    )
    for name, fields in collections:
        await client.post(
            "/api/admin/collections",
            headers=admin.headers,
            json={"name": name, "fields": fields, "rules": {"preset": "public_read_owner_write"}},
        )


@pytest.mark.usefixtures("posts")
async def test_a_before_hook_changes_the_record_but_not_its_system_fields(
    client: httpx.AsyncClient,
    make_user: MakeUser,
) -> None:
    ann = await make_user()
    created = await client.post(
        "/api/collections/posts/records", headers=ann.headers, json={"title": "Hello World"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["slug"] == "hello-world"
    assert created.json()["_owner"] == ann.id
    updated = await client.patch(
        f"/api/collections/posts/records/{created.json()['_id']}",
        headers=ann.headers,
        json={"title": "Second Take"},
    )
    assert updated.json()["slug"] == "second-take"


@pytest.mark.usefixtures("posts")
async def test_a_before_hook_refuses_with_a_clean_4xx_and_nothing_is_written(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    services: Services,
) -> None:
    ann = await make_user()
    refused = await client.post(
        "/api/collections/posts/records", headers=ann.headers, json={"title": "LOUD NOISES"}
    )
    assert (refused.status_code, refused.json()["code"]) == (400, "posts.shouting")
    page = await client.get("/api/collections/posts/records")
    assert page.json()["items"] == []
    assert await services.db.fetch_value("SELECT COUNT(*) FROM jobs") == 0
    pinned = await client.post(
        "/api/collections/posts/records",
        headers=ann.headers,
        json={"title": "Keep", "pinned": True},
    )
    gone = await client.delete(
        f"/api/collections/posts/records/{pinned.json()['_id']}", headers=ann.headers
    )
    assert (gone.status_code, gone.json()["code"]) == (409, "posts.pinned")


@pytest.mark.usefixtures("posts")
async def test_a_hook_cannot_slip_an_invalid_record_past_the_schema(
    client: httpx.AsyncClient,
    make_user: MakeUser,
) -> None:
    ann = await make_user()
    answer = await client.post(
        "/api/collections/strict/records", headers=ann.headers, json={"n": 1}
    )
    assert (answer.status_code, answer.json()["code"]) == (400, "records.invalid")


@pytest.mark.usefixtures("posts")
async def test_a_hook_cannot_grow_a_record_past_the_shape_limits(
    client: httpx.AsyncClient, make_user: MakeUser, admin: Actor
) -> None:
    ann = await make_user()
    answer = await client.post("/api/collections/sprawl/records", headers=ann.headers, json={})

    assert (answer.status_code, answer.json()["code"]) == (400, "records.limit_exceeded")
    assert answer.json()["details"] == {
        "limit": "record_max_fields_per_object",
        "max": 1000,
        "path": "index",
    }
    listed = await client.get("/api/collections/sprawl/records", headers=admin.headers)
    assert listed.json()["items"] == []


@pytest.mark.usefixtures("posts")
async def test_an_after_hook_runs_once_the_write_committed_as_a_job(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    services: Services,
) -> None:
    ann = await make_user()
    post = (
        await client.post(
            "/api/collections/posts/records", headers=ann.headers, json={"title": "first"}
        )
    ).json()
    assert (await client.get("/api/collections/audit/records")).json()["items"] == []
    assert await run_jobs(services) == 1
    audit = (await client.get("/api/collections/audit/records")).json()["items"]
    assert [(row["post"], row["by"]) for row in audit] == [(post["_id"], ann.id)]
    assert await run_jobs(services) == 0  # done once, not again


@pytest.mark.usefixtures("posts")
async def test_a_failing_after_hook_is_retried_and_its_error_shown_to_admins(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    services: Services,
    admin: Actor,
) -> None:
    ann = await make_user()
    post = (
        await client.post(
            "/api/collections/posts/records", headers=ann.headers, json={"title": "first"}
        )
    ).json()
    await run_jobs(services)
    await client.patch(
        f"/api/collections/posts/records/{post['_id']}",
        headers=ann.headers,
        json={"title": "again"},
    )
    await run_jobs(services)
    listed = await client.get(
        "/api/admin/jobs", headers=admin.headers, params={"name": "minibase.after_hook"}
    )
    failing = [job for job in listed.json()["items"] if job["payload"]["hook"] == "app.flaky"]
    assert len(failing) == 1
    job = failing[0]
    assert job["state"] == "queued"  # waiting for its retry, not lost
    assert job["attempts"] == 1
    assert "the mail server is down" in job["last_error"]
    one = await client.get(f"/api/admin/jobs/{job['id']}", headers=admin.headers)
    assert one.json()["id"] == job["id"]
    cancelled = await client.post(f"/api/admin/jobs/{job['id']}/cancel", headers=admin.headers)
    assert cancelled.json()["state"] == "cancelled"
    again = await client.post(f"/api/admin/jobs/{job['id']}/retry", headers=admin.headers)
    assert again.json()["state"] == "queued"
    twice = await client.post(f"/api/admin/jobs/{job['id']}/cancel", headers=admin.headers)
    assert twice.status_code == 200
    finished = await client.post(f"/api/admin/jobs/{job['id']}/cancel", headers=admin.headers)
    assert (finished.status_code, finished.json()["code"]) == (409, "jobs.invalid_state")


@pytest.mark.usefixtures("posts")
async def test_an_after_hook_takes_records_as_large_as_the_api_accepts(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    services: Services,
) -> None:
    ann = await make_user()
    body = "x" * (services.settings.max_body_bytes - 1000)  # past a job payload's 256 KiB
    created = await client.post(
        "/api/collections/posts/records", headers=ann.headers, json={"title": "big", "body": body}
    )
    assert created.status_code == 201, created.text[:300]
    assert await run_jobs(services) == 1
    audit = (await client.get("/api/collections/audit/records")).json()["items"]
    assert [row["post"] for row in audit] == [created.json()["_id"]]


@pytest.mark.usefixtures("posts")
async def test_a_record_deleted_and_created_again_under_its_id_runs_the_hook_again(
    client: httpx.AsyncClient,
    admin: Actor,
    services: Services,
) -> None:
    for _ in range(2):
        created = await client.post(
            "/api/collections/posts/records", headers=admin.headers, json={"_id": "p1"}
        )
        assert created.status_code == 201
        assert await run_jobs(services) == 1
        deleted = await client.delete("/api/collections/posts/records/p1", headers=admin.headers)
        assert deleted.status_code == 204
    audit = (await client.get("/api/collections/audit/records")).json()["items"]
    assert [row["post"] for row in audit] == ["p1", "p1"]

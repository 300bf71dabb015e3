"""Admin API over the job queue: see what is queued, failed or dead, and retry or cancel."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from minibase.errors import ApiError
from minibase.http.auth import require_admin, services_of
from minibase.http.json import json_response
from minibase.http.paging import (
    declared_only,
    limit_param,
    next_page,
    page_answer,
    page_limit,
    state_filter,
    state_param,
)
from minibase.http.routing import Routes
from minibase.jobs import Job, JobNotFound, JobState, JobStateError

JOB_STATES = tuple(state.value for state in JobState)
routes = Routes("jobs")

JOB = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "payload": {},
        "state": {"enum": [state.value for state in JobState]},
        "attempts": {"type": "integer"},
        "max_attempts": {"type": "integer"},
        "run_at": {"type": "string"},
        "last_error": {"type": ["string", "null"]},
        "key": {"type": ["string", "null"]},
    },
}


def _not_found(job_id: str) -> ApiError:
    return ApiError("jobs.not_found", 404, f"no job {job_id!r}")


LIST_QUERY = (
    state_param(JOB_STATES, "jobs"),
    ("name", "the job's name", {"type": "string"}),
    ("after", "next_after of the page before (newest first)", {"type": "string"}),
    limit_param(50),
)
COUNTS = {
    "type": "object",
    "description": "jobs in each state, of the name asked for if any",
    "properties": {state: {"type": "integer"} for state in JOB_STATES},
}


@routes.add(
    "GET",
    "/api/admin/jobs",
    "List jobs, newest first (filter by state and name), and counts by state (of that name)",
    access="admin",
    query=LIST_QUERY,
    responses={200: ("Jobs", page_answer(JOB, "after", counts=COUNTS))},
)
async def list_jobs(request: Request) -> Response:
    await require_admin(request)
    declared_only(request, LIST_QUERY)
    queue = services_of(request).jobs
    params = request.query_params
    name = params.get("name")
    limit = page_limit(request, default=50)
    fetched = await queue.list(
        state=state_filter(request, JOB_STATES),
        name=name,
        limit=limit + 1,
        after=params.get("after"),
    )
    jobs, next_after = next_page(fetched, limit, lambda job: job.id)
    counts = await queue.counts(name=name)
    items = [job.to_json() for job in jobs]
    return json_response({"items": items, "next_after": next_after, "counts": counts})


@routes.add(
    "GET",
    "/api/admin/jobs/{id}",
    "Read a job, with the error of its last attempt",
    access="admin",
    responses={200: ("The job", JOB)},
)
async def get_job(request: Request) -> Response:
    await require_admin(request)
    job = await services_of(request).jobs.get(request.path_params["id"])
    if job is None:
        raise _not_found(request.path_params["id"])
    return json_response(job.to_json())


async def _change(request: Request, retry: bool) -> Job:
    await require_admin(request)
    services = services_of(request)
    job_id = request.path_params["id"]
    try:
        job = await (services.jobs.retry(job_id) if retry else services.jobs.cancel(job_id))
    except JobNotFound:
        raise _not_found(job_id) from None
    except JobStateError as exc:
        raise ApiError("jobs.invalid_state", 409, str(exc), {"state": str(exc.state)}) from None
    return job


@routes.add(
    "POST",
    "/api/admin/jobs/{id}/retry",
    "Run a dead or cancelled job again, from scratch",
    access="admin",
    responses={200: ("The job, queued", JOB), 409: ("Not retryable", None)},
)
async def retry_job(request: Request) -> Response:
    return json_response((await _change(request, retry=True)).to_json())


@routes.add(
    "POST",
    "/api/admin/jobs/{id}/cancel",
    "Cancel a queued job",
    access="admin",
    responses={200: ("The job, cancelled", JOB), 409: ("Running or finished", None)},
)
async def cancel_job(request: Request) -> Response:
    return json_response((await _change(request, retry=False)).to_json())

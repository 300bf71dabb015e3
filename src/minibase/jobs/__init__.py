"""The durable job queue: jobs in the same database as the data, leased, fenced and retried.

queue = JobQueue(services.db, services.clock, services.ids)
async with services.db.transaction() as conn:
    order = await mark_paid(conn, ...)
    await queue.enqueue("pay.fulfil", {"order": order.id}, key=f"fulfil:{order.id}", conn=conn)
# once committed, this process's workers are woken; the others find it at their next poll

worker = JobWorker(queue, {"pay.fulfil": fulfil}.get)
await worker.run(stop)
"""

from minibase.jobs.job import (
    InvalidJob,
    Job,
    JobNotFound,
    JobState,
    JobStateError,
    LeaseLost,
)
from minibase.jobs.queue import JobQueue
from minibase.jobs.worker import Backoff, Handler, JobWorker

__all__ = [
    "Backoff",
    "Handler",
    "InvalidJob",
    "Job",
    "JobNotFound",
    "JobQueue",
    "JobState",
    "JobStateError",
    "JobWorker",
    "LeaseLost",
]

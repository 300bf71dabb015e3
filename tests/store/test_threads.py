"""Blocking work runs on worker threads and comes back to the awaiting task, errors included."""

from __future__ import annotations

import asyncio
import threading

import pytest

from minibase.store.threads import WorkerThreads


async def test_work_runs_off_the_event_loop_thread_and_returns_its_result() -> None:
    threads = WorkerThreads(2, "test")
    try:
        names = await asyncio.gather(
            *(threads.run(lambda: threading.current_thread().name) for _ in range(20))
        )
    finally:
        await threads.stop()
    assert set(names) <= {"test-0", "test-1"}
    assert threading.current_thread().name not in names


async def test_an_error_in_the_work_is_raised_in_the_awaiting_task() -> None:
    threads = WorkerThreads(1, "test")

    def fail() -> None:
        raise ValueError("boom")

    try:
        with pytest.raises(ValueError, match="boom"):
            await threads.run(fail)
        assert await threads.run(lambda: 42) == 42  # the thread survived
    finally:
        await threads.stop()


async def test_stop_finishes_queued_work_first() -> None:
    threads = WorkerThreads(1, "test")
    done: list[int] = []
    pending = [asyncio.ensure_future(threads.run(lambda i=i: done.append(i))) for i in range(5)]
    await asyncio.sleep(0)
    await threads.stop()
    await asyncio.gather(*pending)
    assert done == [0, 1, 2, 3, 4]

"""A few threads that run blocking work for the event loop, with as little hand-off as can be.

`loop.run_in_executor` goes through a concurrent.futures.Future chained to an asyncio one; here
a worker resolves the asyncio future directly with one `call_soon_threadsafe`. On the read path
of the embedded database this hand-off is most of the cost of a query.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
_Job = tuple[Callable[[], Any], "asyncio.Future[Any]", asyncio.AbstractEventLoop]


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


class WorkerThreads:
    def __init__(self, count: int, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._outstanding = 0  # submitted, and their results not yet back on the loop
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            work, future, loop = job
            try:
                result, error = work(), None
            except BaseException as exc:  # handed to the awaiting task, which re-raises it
                result, error = None, exc
            # RuntimeError: the loop closed meanwhile, and nobody waits for this any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._finished, future, result, error)

    def submit(self, work: Callable[[], T]) -> asyncio.Future[T]:
        """Queue the work now (jobs run in the order submitted); await the future for its result."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._outstanding += 1
        self._jobs.put((work, future, loop))
        return future

    def _finished(
        self, future: asyncio.Future[Any], result: Any, error: BaseException | None
    ) -> None:
        """On the loop, once a thread is done with a job (even one whose waiter gave up)."""
        self._outstanding -= 1
        _settle(future, result, error)

    @property
    def idle(self) -> bool:
        """No job is queued or running: read on the loop's thread, where a job counts until
        its thread has finished it and said so."""
        return self._outstanding == 0

    def waiting(self) -> int:
        """Jobs submitted that no thread has taken yet (approximate, without a lock)."""
        return self._jobs.qsize()

    async def run(self, work: Callable[[], T]) -> T:
        return await self.submit(work)

    async def stop(self) -> None:
        """Finish queued work, then end the threads."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            await asyncio.to_thread(thread.join)

"""The thread pools of a web process.

Plain ``def`` routes and dependencies run on anyio's default thread limiter, sized by
``size_default_pool`` to AMTSWEG_THREADS (the requests let in at once; the database pool
has as many connections) plus a few spare threads for static files.
Probes and the metrics endpoint use ``side_thread``: a small pool of their own, so they
neither wait behind busy routes nor take a thread a route needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar

T = TypeVar("T")

SIDE_THREADS = 4
# Threads beyond one per request in flight: static files (Starlette opens them on a thread)
# are not held back by the request limit and must not wait for a busy route's thread.
SPARE_THREADS = 4
_side_limiter: RunVar[anyio.CapacityLimiter] = RunVar("amtsweg_side_limiter")


def size_default_pool(threads: int) -> None:
    """Size anyio's default thread limiter (one per event loop) for the running loop:
    ``threads`` for the requests in flight plus SPARE_THREADS."""
    limiter = anyio.to_thread.current_default_thread_limiter()
    if limiter.total_tokens != threads + SPARE_THREADS:
        limiter.total_tokens = threads + SPARE_THREADS


async def side_thread(func: Callable[[], T], timeout: float | None = None) -> T:
    """Run ``func`` on the side pool; with ``timeout``, give up waiting after that many
    seconds (TimeoutError; the thread is left to finish on its own)."""
    try:
        limiter = _side_limiter.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(SIDE_THREADS)
        _side_limiter.set(limiter)
    if timeout is None:
        return await anyio.to_thread.run_sync(func, limiter=limiter)
    with anyio.fail_after(timeout):
        return await anyio.to_thread.run_sync(func, limiter=limiter, abandon_on_cancel=True)

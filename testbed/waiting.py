"""Waiting for a condition with a deadline: the one loop the tests and the testbed poll with.

Poll only what cannot be awaited (another process's output, a file, a socket a thread
fills); where there is an event to wait on (a queue, a condition variable, a future), wait
on it instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_S = 0.01  # often enough not to slow a test down, seldom enough not to load the machine


def _explain(what: str | Callable[[], str]) -> str:
    return what if isinstance(what, str) else what()


def wait_until(
    predicate: Callable[[], T],
    timeout_s: float,
    what: str | Callable[[], str],
    *,
    poll_s: float = POLL_S,
) -> T:
    """The first truthy value `predicate()` returns within `timeout_s`; else TimeoutError
    naming `what` (a callable is asked only then, so it can show the state at the end)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"not within {timeout_s} s: {_explain(what)}")
        time.sleep(poll_s)


async def wait_until_async(
    predicate: Callable[[], T],
    timeout_s: float,
    what: str | Callable[[], str],
    *,
    poll_s: float = POLL_S,
) -> T:
    """`wait_until` for a test running on an asyncio loop: it sleeps on the loop, never
    blocking it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() >= deadline:
            raise TimeoutError(f"not within {timeout_s} s: {_explain(what)}")
        await asyncio.sleep(poll_s)

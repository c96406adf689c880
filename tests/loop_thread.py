"""An asyncio loop on its own thread, so a test can drive blocking clients (python-can,
pyserial) against a simulator's transport the way a separate process would."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="sim-loop")
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run a coroutine on the loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call a plain function on the loop thread and wait for its result."""

        async def call() -> T:
            return fn(*args, **kwargs)

        return self.run(call())

    def stop(self) -> None:
        """Stops the loop; fails if a task is still pending on it (a leak: closing the loop
        would drop it unseen)."""
        left = self.call(lambda: [t for t in asyncio.all_tasks(self.loop) if not t.done()])
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
        # The coroutine `call` ran in is a task too, done by the time its result is read.
        assert not [t for t in left if not t.done()], f"tasks left on the loop: {left}"

"""Call-laters on the running loop, kept so that stopping a simulator cancels every one."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Timers:
    def __init__(self) -> None:
        self._handles: set[asyncio.TimerHandle] = set()

    def later(self, delay_s: float, action: Callable[[], None]) -> asyncio.TimerHandle:
        """Run `action` on the loop after `delay_s`; the handle cancels it."""
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._handles.discard(handle)
            action()

        handle = asyncio.get_running_loop().call_later(delay_s, fire)
        self._handles.add(handle)
        return handle

    def cancel(self, handle: asyncio.TimerHandle | None) -> None:
        if handle is not None:
            handle.cancel()
            self._handles.discard(handle)

    def cancel_all(self) -> None:
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()

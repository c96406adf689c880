"""Periodic work that wakes the loop together: every periodic sleep ends on a multiple of
GRAIN_S of loop time, so the housekeeping, the telemetry and the status watch that fall due in
the same grain run in one wake-up of the loop (as the kernel's timer slack does)."""

from __future__ import annotations

import asyncio

GRAIN_S = 0.25


def aligned_delay(loop_time: float, seconds: float, grain: float = GRAIN_S) -> float:
    """From `loop_time`, the delay to the multiple of `grain` nearest `seconds` on (never
    negative): a loop that wakes on the grain keeps its period exactly."""
    return max(0.0, round((loop_time + seconds) / grain) * grain - loop_time)


async def sleep_aligned(seconds: float) -> None:
    """asyncio.sleep(seconds), ending on the grain (at most GRAIN_S / 2 off)."""
    loop = asyncio.get_running_loop()
    await asyncio.sleep(aligned_delay(loop.time(), seconds))

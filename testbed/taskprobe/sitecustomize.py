"""Loaded by a Python process started with this directory on PYTHONPATH (the soak's agents):
every FLEET_TASKPROBE_S seconds it writes to stderr one line `taskprobe <n>`, the number of
asyncio tasks alive on the process's event loops. With FLEET_TASKPROBE_TRACEMALLOC=W it also
traces Python's allocations: `tracemalloc <bytes>` each time (its own bookkeeping left out),
and after W seconds of warm-up the lines whose allocations grew most since then
(`tracegrew <bytes> <blocks> <file:line>`): a Python-level leak shows there, native memory
(SQLite's page cache, malloc) does not. Test-only: the agent knows nothing of it."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
import tracemalloc
import weakref

_NOT_TRACEMALLOC = tracemalloc.Filter(False, tracemalloc.__file__)
_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
_original_init = asyncio.BaseEventLoop.__init__


def _init(self: asyncio.BaseEventLoop, *args: object, **kwargs: object) -> None:
    _original_init(self, *args, **kwargs)
    _loops.add(self)


def _count() -> int:
    for _ in range(5):
        try:
            return sum(
                len(asyncio.all_tasks(loop)) for loop in list(_loops) if not loop.is_closed()
            )
        except RuntimeError:  # the set changed while it was read; read again
            continue
    return -1


def _report(interval: float, trace_warmup_s: float | None) -> None:
    started = time.monotonic()
    baseline: tracemalloc.Snapshot | None = None
    while True:
        time.sleep(interval)
        print(f"taskprobe {_count()}", file=sys.stderr, flush=True)
        if trace_warmup_s is None:
            continue
        snapshot = tracemalloc.take_snapshot().filter_traces([_NOT_TRACEMALLOC])
        traced = sum(stat.size for stat in snapshot.statistics("filename"))
        print(f"tracemalloc {traced}", file=sys.stderr, flush=True)
        if baseline is None:
            if time.monotonic() - started >= trace_warmup_s:
                baseline = snapshot
            continue
        grew = [s for s in snapshot.compare_to(baseline, "lineno") if s.size_diff > 0]
        for stat in grew[:5]:
            where = stat.traceback[0]
            print(
                f"tracegrew {stat.size_diff} {stat.count_diff} {where.filename}:{where.lineno}",
                file=sys.stderr,
                flush=True,
            )


if os.environ.get("FLEET_TASKPROBE_S"):
    asyncio.BaseEventLoop.__init__ = _init  # type: ignore[method-assign,assignment]
    _trace = os.environ.get("FLEET_TASKPROBE_TRACEMALLOC")
    if _trace:
        tracemalloc.start()
    threading.Thread(
        target=_report,
        args=(float(os.environ["FLEET_TASKPROBE_S"]), float(_trace) if _trace else None),
        daemon=True,
    ).start()

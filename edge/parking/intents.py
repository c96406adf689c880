"""What the parking controller asks the adapter to do: the common intents and the arm.

Each RaiseLock and LowerLock comes back as exactly one outcome event (RaiseDone/RaiseFailed,
LowerDone/LowerFailed), after the adapter's own retries (PROTOCOL.md section 6).
"""

from dataclasses import dataclass

from edge.intents import CancelTimer, Event, Reply, ReplyStatus, StartTimer, WriteRecord


@dataclass(frozen=True)
class RaiseLock:
    pass


@dataclass(frozen=True)
class LowerLock:
    pass


Intent = RaiseLock | LowerLock | StartTimer | CancelTimer | WriteRecord | Reply | Event

__all__ = [
    "CancelTimer",
    "Event",
    "Intent",
    "LowerLock",
    "RaiseLock",
    "Reply",
    "ReplyStatus",
    "StartTimer",
    "WriteRecord",
]

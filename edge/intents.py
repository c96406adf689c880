"""What a pure box controller asks its adapter to do, whatever the kind of box.

Each kind adds its own hardware intents (the vehicle's SendCan, the cabinet's board requests).
The adapter makes WriteRecord and Reply durable in one transaction with the controller's
snapshot before it carries out anything else.
"""

from dataclasses import dataclass
from typing import Literal

from edge.commands.reply import FailureCode, RejectCode
from edge.wire.fields import EventBody, RecordBody, ReplyResult

ReplyStatus = Literal["ok", "rejected", "failed"]


@dataclass(frozen=True)
class StartTimer:
    """Start (or restart) the named one-shot timer; it comes back as TimerFired(name)."""

    name: str
    seconds: float


@dataclass(frozen=True)
class CancelTimer:
    name: str


@dataclass(frozen=True)
class TimerFired:
    name: str


@dataclass(frozen=True)
class OffTimeCounted:
    """An input for every controller: the wall clock synchronised later in the boot, and the
    time the box was off (`seconds`) is now counted (edge.clock.Now.since); deadlines that
    wait on timers may have come closer."""

    seconds: float


@dataclass(frozen=True)
class WriteRecord:
    """A metered record (contract section 4); the store adds the common fields. `synced`:
    every wall-clock time the record carries besides `ts` was taken on a synchronised clock
    (its `clock_synced` is true only when that holds and the clock is synchronised now)."""

    record: RecordBody
    synced: bool = True


@dataclass(frozen=True)
class Reply:
    """The one reply to a command. A `result` that is a record written in the same batch is
    published as written (with its common fields)."""

    command_id: str
    status: ReplyStatus
    code: RejectCode | FailureCode | None = None
    detail: str | None = None
    result: ReplyResult | RecordBody | None = None


@dataclass(frozen=True)
class RaiseEvent:
    """For the `events` topic: a fault or state change worth a human's eye."""

    event: EventBody


class HardwareIntent:
    """A kind's own intent for its hardware (a CAN frame, a board request); the adapter carries
    it out after the durable intents of the same batch. Subclasses are frozen dataclasses."""


Intent = StartTimer | CancelTimer | WriteRecord | Reply | RaiseEvent | HardwareIntent

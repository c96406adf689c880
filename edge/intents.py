"""What a pure box controller asks its adapter to do, whatever the kind of box.

Each kind adds its own hardware intents (the vehicle's SendCan, the cabinet's board requests).
The adapter makes WriteRecord and Reply durable in one transaction with the controller's
snapshot before it carries out anything else.
"""

from dataclasses import dataclass
from typing import Any, Final, Literal

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
class WriteRecord:
    """A metered record (contract section 4) without the common fields the store adds."""

    type: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    command_id: str
    status: ReplyStatus
    code: str | None = None
    detail: str | None = None
    result: dict[str, Any] | None = None


FAULT_EVENT_SUFFIXES: Final = ("_fault", "_faults", "_failed", "_unreachable")
FAULT_EVENT_TYPES: Final = frozenset(
    {"unknown_bank", "slot_unlocked", "forced_removal", "board_slot_count_mismatch"}
)


@dataclass(frozen=True)
class Event:
    """For the `events` topic: a fault or state change worth a human's eye."""

    type: str
    fields: dict[str, Any]

    @property
    def is_fault(self) -> bool:
        """Hardware or an operation went wrong (as opposed to a state change)."""
        if self.fields.get("faults") == []:  # a list of faults that has emptied: all cleared
            return False
        return self.type.endswith(FAULT_EVENT_SUFFIXES) or self.type in FAULT_EVENT_TYPES


@dataclass(frozen=True)
class TimerFired:
    name: str


CommonIntent = StartTimer | CancelTimer | WriteRecord | Reply | Event

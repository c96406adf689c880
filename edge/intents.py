"""What a pure box controller asks its adapter to do, whatever the kind of box.

Each kind adds its own hardware intents (the vehicle's SendCan, the cabinet's board requests).
The adapter makes WriteRecord and Reply durable in one transaction with the controller's
snapshot before it carries out anything else.
"""

from dataclasses import dataclass
from typing import Any, Literal

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


@dataclass(frozen=True)
class Event:
    """For the `events` topic: a fault or state change worth a human's eye."""

    type: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class TimerFired:
    name: str


CommonIntent = StartTimer | CancelTimer | WriteRecord | Reply | Event

"""What the vehicle controller asks the adapter to do."""

from dataclasses import dataclass
from typing import Any, Literal

CanCommand = Literal["lock", "unlock", "start_enable", "start_disable"]
ReplyStatus = Literal["ok", "rejected", "failed"]


@dataclass(frozen=True)
class SendCan:
    command: CanCommand


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


Intent = SendCan | StartTimer | CancelTimer | WriteRecord | Reply | Event

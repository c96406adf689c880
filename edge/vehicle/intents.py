"""What the vehicle controller asks the adapter to do: the common intents and SendCan."""

from dataclasses import dataclass
from typing import Literal

from edge.intents import CancelTimer, Event, Reply, ReplyStatus, StartTimer, WriteRecord

CanCommand = Literal["lock", "unlock", "start_enable", "start_disable"]


@dataclass(frozen=True)
class SendCan:
    command: CanCommand


Intent = SendCan | StartTimer | CancelTimer | WriteRecord | Reply | Event

__all__ = [
    "CanCommand", "CancelTimer", "Event", "Intent", "Reply", "ReplyStatus", "SendCan",
    "StartTimer", "WriteRecord",
]

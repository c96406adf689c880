"""What the cabinet controller asks the adapter to do: the common intents and board requests.

Each Eject and LockSlot comes back as exactly one outcome event (EjectDone/EjectFailed,
LockDone/LockFailed), after the adapter's own retries (PROTOCOL.md section 6).
"""

from dataclasses import dataclass

from edge.intents import CancelTimer, Event, Reply, ReplyStatus, StartTimer, WriteRecord


@dataclass(frozen=True)
class Eject:
    slot: int


@dataclass(frozen=True)
class LockSlot:
    slot: int


@dataclass(frozen=True)
class ReadInventory:
    """Read every slot (GET_SLOTS on every board) and feed the result as InventoryRead."""


Intent = Eject | LockSlot | ReadInventory | StartTimer | CancelTimer | WriteRecord | Reply | Event

__all__ = [
    "CancelTimer",
    "Eject",
    "Event",
    "Intent",
    "LockSlot",
    "ReadInventory",
    "Reply",
    "ReplyStatus",
    "StartTimer",
    "WriteRecord",
]

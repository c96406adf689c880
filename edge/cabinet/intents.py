"""What the cabinet controller asks of its boards, beside the common intents (edge.intents).

Each Eject and LockSlot comes back as exactly one outcome input (EjectDone/EjectFailed,
LockDone/LockFailed), after the adapter's own retries (PROTOCOL.md section 6).
"""

from dataclasses import dataclass

from edge.intents import HardwareIntent


@dataclass(frozen=True)
class Eject(HardwareIntent):
    slot: int


@dataclass(frozen=True)
class LockSlot(HardwareIntent):
    slot: int


@dataclass(frozen=True)
class ReadInventory(HardwareIntent):
    """Read every slot (GET_SLOTS on every board) and feed the result as InventoryRead."""


CabinetIntent = Eject | LockSlot | ReadInventory

"""What the parking controller asks the adapter to do with the arm (the common intents are in
edge/intents.py).

Each RaiseLock and LowerLock comes back as exactly one outcome input (RaiseDone/RaiseFailed,
LowerDone/LowerFailed), after the adapter's own retries (PROTOCOL.md section 6).
"""

from dataclasses import dataclass

from edge.intents import HardwareIntent


@dataclass(frozen=True)
class RaiseLock(HardwareIntent):
    pass


@dataclass(frozen=True)
class LowerLock(HardwareIntent):
    pass


ArmIntent = RaiseLock | LowerLock

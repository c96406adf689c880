"""The logical values a vehicle profile speaks in, and the "not available" sentinel."""

import enum
from typing import Final, Literal


class NotAvailable(enum.Enum):
    """The ECU sent its "signal not available" raw value (or one outside the DBC range)."""

    NOT_AVAILABLE = "not_available"

    def __repr__(self) -> str:
        return "NOT_AVAILABLE"


NOT_AVAILABLE: Final = NotAvailable.NOT_AVAILABLE

LockState = Literal["locked", "unlocked"]
LogicalValue = float | bool | str | NotAvailable
"""float for fuel_pct, odometer_km, speed_kmh; bool for ignition, engine_running, doors_closed,
start_enabled; "locked" / "unlocked" for lock_state; NOT_AVAILABLE for any of them."""

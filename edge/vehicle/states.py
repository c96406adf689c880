"""The vehicle machines' states (pytransitions runs on these enums); each value is the string
the telemetry, the snapshot and the records carry."""

from __future__ import annotations

from enum import StrEnum


class CentralLockState(StrEnum):
    UNKNOWN = "unknown"
    LOCKED = "locked"
    UNLOCKED = "unlocked"
    LOCKING = "locking"
    UNLOCKING = "unlocking"
    FAULT = "fault"


class StartEnableState(StrEnum):
    UNKNOWN = "unknown"
    ENABLED = "enabled"
    DISABLED = "disabled"
    ENABLING = "enabling"
    DISABLING = "disabling"
    WITHDRAW_PENDING = "withdraw_pending"
    FAULT = "fault"


class RentalState(StrEnum):
    NONE = "none"
    BOOKED = "booked"
    ACTIVE = "active"

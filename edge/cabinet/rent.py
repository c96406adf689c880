"""A rent under way: its ejects, one per slot, and the one reply owed when all have an outcome.

An eject succeeds when the latch is seen open (or the bank seen gone); it fails on a NAK or no
response from the board, a latch that sticks, or no sign of opening before the take timeout.
The reply is `ok` only when every bank was ejected. Otherwise it is `failed`, code
`hardware_timeout` when every failure was a timeout and `hardware_fault` else, and its
`result` still says exactly which slots ejected: those banks are out, and their `bank_out`
records follow when they are taken.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edge.cabinet.events import HardwareCode
from edge.cabinet.intents import Reply

EJECTED = "ejected"


@dataclass
class RentOperation:
    command_id: str
    order_id: str
    reservation_id: str | None
    slots: list[int]
    # Per slot: EJECTED or a failure code; absent while under way.
    outcomes: dict[int, str] = field(default_factory=dict)
    reasons: dict[int, str] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return all(slot in self.outcomes for slot in self.slots)

    def ejected(self, slot: int) -> None:
        self.outcomes.setdefault(slot, EJECTED)

    def failed(self, slot: int, code: HardwareCode, reason: str) -> None:
        if slot not in self.outcomes:
            self.outcomes[slot] = code
            self.reasons[slot] = reason

    def reply(self) -> Reply:
        ejected = [slot for slot in self.slots if self.outcomes[slot] == EJECTED]
        failed = [
            {"slot": slot, "code": self.outcomes[slot], "reason": self.reasons[slot]}
            for slot in self.slots
            if self.outcomes[slot] != EJECTED
        ]
        result = {
            "order_id": self.order_id,
            "reservation_id": self.reservation_id,
            "ejected": ejected,
            "failed": failed,
        }
        if not failed:
            return Reply(self.command_id, "ok", result=result)
        timeouts = all(failure["code"] == "hardware_timeout" for failure in failed)
        detail = f"ejected {len(ejected)} of {len(self.slots)}; " + "; ".join(
            f"slot {failure['slot']}: {failure['reason']}" for failure in failed
        )
        code = "hardware_timeout" if timeouts else "hardware_fault"
        return Reply(self.command_id, "failed", code, detail, result)

    def snapshot(self) -> dict[str, Any]:
        return {
            "command_id": self.command_id,
            "order_id": self.order_id,
            "reservation_id": self.reservation_id,
            "slots": self.slots,
            "outcomes": [
                {"slot": slot, "outcome": outcome, "reason": self.reasons.get(slot)}
                for slot, outcome in self.outcomes.items()
            ],
        }

    @classmethod
    def restore(cls, snapshot: dict[str, Any]) -> RentOperation:
        rent = cls(
            str(snapshot["command_id"]),
            str(snapshot["order_id"]),
            snapshot["reservation_id"],
            [int(slot) for slot in snapshot["slots"]],
        )
        for entry in snapshot["outcomes"]:
            slot = int(entry["slot"])
            rent.outcomes[slot] = str(entry["outcome"])
            if entry["reason"] is not None:
                rent.reasons[slot] = str(entry["reason"])
        return rent

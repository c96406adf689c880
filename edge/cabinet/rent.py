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
from typing import Final, Literal

from edge.cabinet.results import FailedEject, RentResult
from edge.commands.reply import FailureCode
from edge.intents import Reply

EJECTED: Final = "ejected"
Outcome = Literal["ejected"] | FailureCode
"""Of one eject: EJECTED, or the code it failed with."""


@dataclass
class RentOperation:
    command_id: str
    order_id: str
    reservation_id: str | None
    slots: list[int]
    # Per slot: EJECTED or a failure code; absent while under way.
    outcomes: dict[int, Outcome] = field(default_factory=dict)
    reasons: dict[int, str] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return all(slot in self.outcomes for slot in self.slots)

    def ejected(self, slot: int) -> None:
        self.outcomes.setdefault(slot, EJECTED)

    def failed(self, slot: int, code: FailureCode, reason: str) -> None:
        if slot not in self.outcomes:
            self.outcomes[slot] = code
            self.reasons[slot] = reason

    def reply(self) -> Reply:
        ejected = [slot for slot in self.slots if self.outcomes[slot] == EJECTED]
        failed = [
            FailedEject(slot=slot, code=outcome, reason=self.reasons[slot])
            for slot in self.slots
            if isinstance(outcome := self.outcomes[slot], FailureCode)
        ]
        result = RentResult(
            order_id=self.order_id,
            reservation_id=self.reservation_id,
            ejected=ejected,
            failed=failed,
        )
        if not failed:
            return Reply(self.command_id, "ok", result=result)
        timeouts = all(failure.code == FailureCode.HARDWARE_TIMEOUT for failure in failed)
        detail = f"ejected {len(ejected)} of {len(self.slots)}; " + "; ".join(
            f"slot {failure.slot}: {failure.reason}" for failure in failed
        )
        code = FailureCode.HARDWARE_TIMEOUT if timeouts else FailureCode.HARDWARE_FAULT
        return Reply(self.command_id, "failed", code, detail, result)

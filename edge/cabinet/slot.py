"""One slot of the cabinet: what its board last showed and where the slot is in its life.

States (the telemetry `state`, where the controller shows an empty or occupied slot held by a
reservation as `reserved_return` or `reserved_rent`):
- `unknown`: not read since the agent started.
- `empty`: no bank, nothing wrong.
- `occupied`: a bank held by the latch, charging or full (the view carries its charge).
- `ejecting`: EJECT asked for a rent; waiting for the latch to open, then for the bank to be
  taken. Once taken the slot is `empty` again: "out" is where the bank is, not a slot state.
- `locking`: LOCK_SLOT asked (a bank not taken in time, or one the latch did not catch); until
  the latch reads locked or the bank is gone.
- `fault`: the board reports fault bits or cannot read the latch; clears itself when the board
  reports the slot healthy again.
- `quarantined`: something a person must look at (a bank pulled out without an eject, a latch
  that opened by itself or would not close); only `set_slot` with enabled true clears it.
- `disabled`: out of service by `set_slot`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from transitions import Machine, State

from edge.cabinet.intents import Eject, LockSlot
from edge.clock import Now
from edge.intents import CancelTimer, Intent, StartTimer
from firmware_protocol.slotboard import LockState, SlotFault

if TYPE_CHECKING:
    from transitions.core import CallbacksArg, TransitionConfigDict


class SlotState(StrEnum):
    """Where a slot is in its life (the module's docstring); the same strings in telemetry
    and snapshots."""

    UNKNOWN = "unknown"
    EMPTY = "empty"
    OCCUPIED = "occupied"
    EJECTING = "ejecting"
    LOCKING = "locking"
    FAULT = "fault"
    QUARANTINED = "quarantined"
    DISABLED = "disabled"


UNKNOWN = SlotState.UNKNOWN
EMPTY = SlotState.EMPTY
OCCUPIED = SlotState.OCCUPIED
EJECTING = SlotState.EJECTING
LOCKING = SlotState.LOCKING
FAULT = SlotState.FAULT
QUARANTINED = SlotState.QUARANTINED
DISABLED = SlotState.DISABLED
RESTING = (UNKNOWN, EMPTY, OCCUPIED, FAULT)
BUSY = (EJECTING, LOCKING)

# The settled state a slot falls into, first match wins: the `conditions` of each row.
_SETTLED: list[tuple[SlotState, CallbacksArg]] = [
    (UNKNOWN, ["unread"]),
    (FAULT, ["troubled"]),
    (LOCKING, ["unlatched"]),
    (OCCUPIED, ["has_bank"]),
    (EMPTY, []),
]


def _settling(trigger: str, source: list[SlotState]) -> list[TransitionConfigDict]:
    return [
        {"trigger": trigger, "source": source, "dest": dest, "conditions": conditions}
        for dest, conditions in _SETTLED
    ]


_TRANSITIONS: list[TransitionConfigDict] = [
    *_settling("settle", [*RESTING]),
    *_settling("finish", [*BUSY]),
    *_settling("enable", [DISABLED, QUARANTINED]),
    {"trigger": "eject", "source": OCCUPIED, "dest": EJECTING},
    {"trigger": "relock", "source": [*BUSY], "dest": LOCKING},
    {"trigger": "quarantine", "source": QUARANTINED, "dest": None},
    {"trigger": "quarantine", "source": [*RESTING, *BUSY], "dest": QUARANTINED},
    {"trigger": "disable", "source": [*RESTING, QUARANTINED, DISABLED], "dest": DISABLED},
]


@dataclass
class Bank:
    bank_id: str | None
    charge_pct: int | None

    def same_as(self, other: Bank) -> bool:
        """Whether `other` is taken for this very bank: the same id, or both unreadable (two
        unidentified banks swapped unseen look like one)."""
        return self.bank_id == other.bank_id


@dataclass
class EjectJob:
    """A bank being ejected for a rent; it stays with the slot until the bank is taken or
    locked back in, so that a late take is still that rent's `bank_out`."""

    command_id: str
    order_id: str
    reservation_id: str | None
    reserved_at: str | None
    ejected_at: str | None = None
    deadline_mono: float = 0.0
    timer: str | None = None
    grant_id: str | None = None  # an installer's test eject, not a rent
    reserved_synced: bool | None = None  # None: not known (a snapshot from before)
    ejected_synced: bool | None = None

    @property
    def opened(self) -> bool:
        return self.ejected_at is not None

    def mark_ejected(self, now: Now) -> None:
        self.ejected_at, self.ejected_synced = now.wall, now.clock_synced

    @property
    def stamps_synced(self) -> bool:
        """Its wall-clock times (reserved_at, ejected_at) were all taken on a synced clock."""
        return (self.reserved_at is None or self.reserved_synced is True) and (
            self.ejected_at is None or self.ejected_synced is True
        )


class Slot:
    """The facts (bank, latch, fault bits) and the state machine of one slot. The state
    machine is shared by all slots (`slot_machine`); triggers go through `trigger(name)`."""

    state: SlotState
    trigger: Callable[[str], bool]

    def __init__(self, number: int, outbox: list[Intent], take_timeout_s: float) -> None:
        self.number = number
        self.read = False
        self.stale = False  # restored from a snapshot and not read since
        self.bank: Bank | None = None
        self.lock: LockState | None = None
        self.faults = SlotFault(0)
        self.job: EjectJob | None = None
        self.timer_seq = 0
        self._outbox = outbox
        self._take_timeout_s = take_timeout_s

    # -- conditions of the settled states -------------------------------------------------------

    def unread(self) -> bool:
        return not self.read

    def troubled(self) -> bool:
        return bool(self.faults) or self.lock is LockState.UNKNOWN

    def has_bank(self) -> bool:
        return self.bank is not None

    def unlatched(self) -> bool:
        return self.bank is not None and self.lock is not LockState.LOCKED

    # -- callbacks ------------------------------------------------------------------------------

    def on_enter_ejecting(self) -> None:
        self._outbox.append(Eject(self.number))
        self._start_take_timer()

    def on_exit_ejecting(self) -> None:
        self._stop_take_timer()

    def on_enter_locking(self) -> None:
        self._outbox.append(LockSlot(self.number))

    def forget_job(self) -> None:
        self.job = None

    # -- the eject ------------------------------------------------------------------------------

    def begin_eject(self, job: EjectJob, now: Now) -> None:
        self.job = job
        job.deadline_mono = now.mono + self._take_timeout_s
        self.trigger("eject")

    def latch_opened(self, now: Now) -> None:
        """The latch opened for the eject: the person has `take_timeout_s` from now."""
        assert self.job is not None
        self.job.mark_ejected(now)
        self.job.deadline_mono = now.mono + self._take_timeout_s
        self._stop_take_timer()
        self._start_take_timer()

    def drop_job(self) -> None:
        """The eject failed: the bank never left the latch, so no rent is owed for it."""
        self._stop_take_timer()
        self.job = None

    def take_timer_fired(self, name: str) -> bool:
        """True when `name` is this slot's take timer (then it is no longer running)."""
        if self.job is None or self.job.timer != name:
            return False
        self.job.timer = None
        return True

    def rearm_take_timer(self, now: Now) -> None:
        """After a restart, or once an off time is counted: the take timer again, for what is
        left of it in real time (off time since the timer started included)."""
        self._stop_take_timer()
        started = self._deadline() - self._take_timeout_s
        self._start_take_timer(max(0.0, self._take_timeout_s - now.since(started)))

    def _deadline(self) -> float:
        assert self.job is not None
        return self.job.deadline_mono

    def _start_take_timer(self, seconds: float | None = None) -> None:
        assert self.job is not None
        self.timer_seq += 1
        self.job.timer = f"take:{self.number}:{self.timer_seq}"
        self._outbox.append(
            StartTimer(self.job.timer, self._take_timeout_s if seconds is None else seconds)
        )

    def _stop_take_timer(self) -> None:
        if self.job is not None and self.job.timer is not None:
            self._outbox.append(CancelTimer(self.job.timer))
            self.job.timer = None


def slot_machine(slots: list[Slot]) -> Machine:
    """One state machine for every slot of the cabinet. Jobs end when a slot settles."""
    settled = "forget_job"
    states = [
        State(UNKNOWN, on_enter=settled),
        State(EMPTY, on_enter=settled),
        State(OCCUPIED, on_enter=settled),
        State(EJECTING, on_enter="on_enter_ejecting", on_exit="on_exit_ejecting"),
        State(LOCKING, on_enter="on_enter_locking"),
        State(FAULT, on_enter=settled),
        State(QUARANTINED),
        State(DISABLED, on_enter=settled),
    ]
    return Machine(
        model=slots,
        states=states,
        transitions=_TRANSITIONS,
        initial=UNKNOWN,
        auto_transitions=False,
    )

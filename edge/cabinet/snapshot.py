"""The cabinet controller's durable state as the store keeps it (version 1).

The JSON is the one the dict snapshots of earlier versions wrote, so a box upgraded in the
field restores the state its store holds (tests/test_cabinet_controller.py keeps one); fields
added since (`grant_id`, whether `reserved_at` / `ejected_at` were taken on a synced clock) are
omitted when unknown, so such a snapshot is written back unchanged.
Slots restored are `stale` until read again; timers are not running (the controller's
`resume` starts them again).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Literal

from pydantic import Field

from edge.cabinet.inputs import Purpose
from edge.cabinet.rent import Outcome, RentOperation
from edge.cabinet.reservations import Reservation, Reservations
from edge.cabinet.slot import DISABLED, EJECTING, RESTING, Bank, EjectJob, Slot, SlotState
from edge.controller import Snapshot, SnapshotPart
from firmware_protocol.slotboard import LockState, SlotFault

SNAPSHOT_VERSION = 1

LockName = Literal["unlocked", "locked", "unknown"]
_LOCK_NAMES: dict[LockState, LockName] = {
    LockState.UNLOCKED: "unlocked",
    LockState.LOCKED: "locked",
    LockState.UNKNOWN: "unknown",
}


class BankSnapshot(SnapshotPart):
    bank_id: str | None
    charge_pct: int | None


class JobSnapshot(SnapshotPart):
    """An eject job; its `timer` is written but not restored (timers do not survive)."""

    command_id: str
    order_id: str
    reservation_id: str | None
    reserved_at: str | None
    ejected_at: str | None
    deadline_mono: float
    timer: str | None
    grant_id: str | None = Field(default=None, exclude_if=lambda grant: grant is None)
    reserved_synced: bool | None = Field(default=None, exclude_if=lambda known: known is None)
    ejected_synced: bool | None = Field(default=None, exclude_if=lambda known: known is None)


class SlotSnapshot(SnapshotPart):
    slot: int
    state: SlotState
    read: bool
    bank: BankSnapshot | None
    lock: LockName | None
    faults: int
    job: JobSnapshot | None
    timer_seq: int


class ReservationSnapshot(SnapshotPart):
    reservation_id: str
    purpose: Purpose
    slots: list[int]
    reserved_at: str
    expires_mono: float
    expires_at: str
    reserved_synced: bool | None = Field(default=None, exclude_if=lambda known: known is None)


class ReservationsSnapshot(SnapshotPart):
    timer_seq: int
    held: list[ReservationSnapshot]


class OutcomeSnapshot(SnapshotPart):
    slot: int
    outcome: Outcome
    reason: str | None


class RentSnapshot(SnapshotPart):
    command_id: str
    order_id: str
    reservation_id: str | None
    slots: list[int]
    outcomes: list[OutcomeSnapshot]


class CabinetSnapshot(Snapshot):
    slots: list[SlotSnapshot]
    reservations: ReservationsSnapshot
    rents: list[RentSnapshot]


# -- taking one -----------------------------------------------------------------------------


def cabinet_snapshot(
    slots: list[Slot], reservations: Reservations, rents: list[RentOperation]
) -> CabinetSnapshot:
    return CabinetSnapshot(
        version=SNAPSHOT_VERSION,
        slots=[slot_snapshot(slot) for slot in slots],
        reservations=ReservationsSnapshot(
            timer_seq=reservations.timer_seq,
            held=[
                ReservationSnapshot(
                    reservation_id=r.reservation_id,
                    purpose=r.purpose,
                    slots=list(r.slots),
                    reserved_at=r.reserved_at,
                    expires_mono=r.expires_mono,
                    expires_at=r.expires_at,
                    reserved_synced=r.reserved_synced,
                )
                for r in reservations
            ],
        ),
        rents=[rent_snapshot(rent) for rent in rents],
    )


def slot_snapshot(slot: Slot) -> SlotSnapshot:
    return SlotSnapshot(
        slot=slot.number,
        state=slot.state,
        read=slot.read,
        bank=None if slot.bank is None else BankSnapshot(**asdict(slot.bank)),
        lock=None if slot.lock is None else _LOCK_NAMES[slot.lock],
        faults=int(slot.faults),
        job=None if slot.job is None else JobSnapshot(**asdict(slot.job)),
        timer_seq=slot.timer_seq,
    )


def rent_snapshot(rent: RentOperation) -> RentSnapshot:
    return RentSnapshot(
        command_id=rent.command_id,
        order_id=rent.order_id,
        reservation_id=rent.reservation_id,
        slots=list(rent.slots),
        outcomes=[
            OutcomeSnapshot(slot=slot, outcome=outcome, reason=rent.reasons.get(slot))
            for slot, outcome in rent.outcomes.items()
        ],
    )


# -- restoring from one ---------------------------------------------------------------------


def restore_slot(slot: Slot, saved: SlotSnapshot) -> SlotState:
    """Loads the slot's facts; returns the state to set. ValueError when they do not fit."""
    if saved.slot != slot.number:
        raise ValueError(f"slot {saved.slot!r} where slot {slot.number} belongs")
    state, bank, job = saved.state, saved.bank, saved.job
    slot.read = saved.read
    slot.stale = slot.read
    slot.bank = None if bank is None else Bank(bank.bank_id, bank.charge_pct)
    slot.lock = None if saved.lock is None else LockState[saved.lock.upper()]
    slot.faults = SlotFault(saved.faults)
    slot.job = None if job is None else EjectJob(**{**job.model_dump(), "timer": None})
    slot.timer_seq = saved.timer_seq
    if (state == EJECTING and slot.job is None) or (
        state in (*RESTING, DISABLED) and slot.job is not None
    ):
        raise ValueError(f"slot {slot.number} {state} with eject job {job!r}")
    return state


def restore_reservations(reservations: Reservations, saved: ReservationsSnapshot) -> None:
    reservations.load(
        saved.timer_seq,
        (
            Reservation(
                r.reservation_id,
                r.purpose,
                list(r.slots),
                r.reserved_at,
                r.expires_mono,
                r.expires_at,
                reserved_synced=r.reserved_synced,
            )
            for r in saved.held
        ),
    )


def restore_rent(saved: RentSnapshot) -> RentOperation:
    rent = RentOperation(saved.command_id, saved.order_id, saved.reservation_id, list(saved.slots))
    for entry in saved.outcomes:
        rent.outcomes[entry.slot] = entry.outcome
        if entry.reason is not None:
            rent.reasons[entry.slot] = entry.reason
    return rent

"""The cabinet's metered records (contract section 4) with the time of each step.

Wall-clock strings, null where a step did not happen or was not seen: a bank taken or
returned while the agent was down has no `taken_at` / `returned_at`, only `seen_at` (when the
box found out) and `observed_after_restart: true`.
"""

from edge.cabinet.events import Now
from edge.cabinet.intents import WriteRecord
from edge.cabinet.reservations import Reservation
from edge.cabinet.slot import Bank, EjectJob


def bank_out(slot: int, bank: Bank, job: EjectJob, now: Now, observed: bool) -> WriteRecord:
    return WriteRecord(
        "bank_out",
        {
            "order_id": job.order_id,
            "reservation_id": job.reservation_id,
            "slot": slot,
            "bank_id": bank.bank_id,
            "charge_pct": bank.charge_pct,
            "reserved_at": job.reserved_at,
            "ejected_at": job.ejected_at,
            "taken_at": None if observed else now.wall,
            "seen_at": now.wall,
            "observed_after_restart": observed,
        },
    )


def bank_in(
    slot: int, bank: Bank, reservation: Reservation | None, now: Now, observed: bool
) -> WriteRecord:
    return WriteRecord(
        "bank_in",
        {
            "slot": slot,
            "bank_id": bank.bank_id,
            "charge_pct": bank.charge_pct,
            "reservation_id": None if reservation is None else reservation.reservation_id,
            "reserved_at": None if reservation is None else reservation.reserved_at,
            "returned_at": None if observed else now.wall,
            "seen_at": now.wall,
            "observed_after_restart": observed,
        },
    )

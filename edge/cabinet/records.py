"""The cabinet's metered records (contract section 4) with the time of each step.

Wall-clock strings, null where a step did not happen or was not seen: a bank taken or
returned while the agent was down has no `taken_at` / `returned_at`, only `seen_at` (when the
box found out) and `observed_after_restart: true`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import Field

from edge.wire.fields import RecordBody, Timestamp

if TYPE_CHECKING:
    from edge.cabinet.reservations import Reservation
    from edge.cabinet.slot import Bank, EjectJob
    from edge.clock import Now


class BankOut(RecordBody):
    """A bank ejected for a rent was taken out of its slot."""

    record_type: ClassVar[str] = "bank_out"

    order_id: str = Field(description="The order of the rent.")
    reservation_id: str | None = Field(
        description="The reservation the bank was rented from; null for a rent by count."
    )
    slot: int = Field(ge=1, description="The cabinet's slot number, from 1.")
    bank_id: str | None = Field(description="The bank's id; null when it could not be read.")
    charge_pct: int | None = Field(
        ge=0, le=100, description="The bank's charge in %; null when unknown."
    )
    reserved_at: Timestamp | None = Field(
        description="(beyond the contract) When the reservation was made; null for a rent by count."
    )
    ejected_at: Timestamp | None = Field(
        description="(beyond the contract) When the latch opened; null when not seen."
    )
    taken_at: Timestamp | None = Field(
        description="(beyond the contract) When the bank was taken; null when it was taken "
        "while the agent was down."
    )
    seen_at: Timestamp = Field(
        description="(beyond the contract) When the box found the bank gone."
    )
    observed_after_restart: bool = Field(
        description="(beyond the contract) True when the bank went while the agent was down "
        "and its first reading after the restart showed it."
    )
    grant_id: str | None = Field(
        default=None,
        description="(beyond the contract) The installer grant whose test_eject let the bank "
        "out (its order_id is then the grant's id too); null for a rent.",
    )


class InstallerEjected(RecordBody):
    """(beyond the contract) An installer grant's test eject was accepted; written before the
    latch is asked to open."""

    record_type: ClassVar[str] = "test_eject"

    grant_id: str = Field(description="The id of the installer grant (its command envelope).")
    slot: int = Field(ge=1, description="The cabinet's slot number, from 1.")
    bank_id: str | None = Field(description="The bank in the slot; null when unreadable.")
    charge_pct: int | None = Field(
        ge=0, le=100, description="The bank's charge in %; null when unknown."
    )


class BankIn(RecordBody):
    """A bank was inserted into a slot and locked in, whatever cabinet it was rented from."""

    record_type: ClassVar[str] = "bank_in"

    slot: int = Field(ge=1, description="The cabinet's slot number, from 1.")
    bank_id: str | None = Field(description="The bank's id; null when it cannot be identified.")
    charge_pct: int | None = Field(
        ge=0, le=100, description="The bank's charge in %; null when unknown."
    )
    reservation_id: str | None = Field(
        description="The return reservation of the slot it went into; null when the slot was "
        "not reserved."
    )
    reserved_at: Timestamp | None = Field(
        description="(beyond the contract) When that reservation was made; null without one."
    )
    returned_at: Timestamp | None = Field(
        description="(beyond the contract) When the bank was inserted; null when it was "
        "inserted while the agent was down."
    )
    seen_at: Timestamp = Field(
        description="(beyond the contract) When the box found the bank in the slot."
    )
    observed_after_restart: bool = Field(
        description="(beyond the contract) True when the bank came while the agent was down "
        "and its first reading after the restart showed it."
    )


RECORDS: tuple[type[RecordBody], ...] = (BankOut, BankIn, InstallerEjected)


def bank_out(slot: int, bank: Bank, job: EjectJob, now: Now, observed: bool) -> BankOut:
    return BankOut(
        order_id=job.order_id,
        reservation_id=job.reservation_id,
        slot=slot,
        bank_id=bank.bank_id,
        charge_pct=bank.charge_pct,
        reserved_at=job.reserved_at,
        ejected_at=job.ejected_at,
        taken_at=None if observed else now.wall,
        seen_at=now.wall,
        observed_after_restart=observed,
        grant_id=job.grant_id,
    )


def installer_eject(grant_id: str, slot: int, bank: Bank) -> InstallerEjected:
    return InstallerEjected(
        grant_id=grant_id, slot=slot, bank_id=bank.bank_id, charge_pct=bank.charge_pct
    )


def bank_in(
    slot: int, bank: Bank, reservation: Reservation | None, now: Now, observed: bool
) -> BankIn:
    return BankIn(
        slot=slot,
        bank_id=bank.bank_id,
        charge_pct=bank.charge_pct,
        reservation_id=None if reservation is None else reservation.reservation_id,
        reserved_at=None if reservation is None else reservation.reserved_at,
        returned_at=None if observed else now.wall,
        seen_at=now.wall,
        observed_after_restart=observed,
    )

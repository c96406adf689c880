"""The cabinet box: slot readings, board events and commands in; ejects, locks, timers,
records, replies and events out.

- reserve holds slots (all of `count` or none), rent ejects banks, cancel releases, set_slot
  takes a slot out of service or back. Each accepted command gets exactly one reply; reserve,
  cancel and set_slot at once, rent when every eject has an outcome (rent.py).
- Ejects happen only for an accepted rent: its reservation's banks or the best free ones.
- A bank is out (`bank_out`) when the board reports it gone from a slot ejecting it for a rent;
  a bank leaving any other way is a `forced_removal` event and the slot is quarantined. A bank
  arriving in a slot is a `bank_in` (whatever the slot's state: the bank is there) and is locked
  in when the latch did not catch it.
- A record's `clock_synced` is true only when every time in it was taken on a synced clock
  (`reserved_at`, `ejected_at` remember it). Reservation TTLs and take timeouts run in real
  time: an off time counted later in the boot (OffTimeCounted) shortens what is left of them
  (reservations.py says why `expires_at` is kept as sent).
"""

from __future__ import annotations

from pydantic import JsonValue

from edge.cabinet import records
from edge.cabinet.events import (
    EjectFailure,
    EjectNotTaken,
    ForcedRemoval,
    LockFailure,
    ReservationExpired,
    ReservationSlotLost,
    SlotFaultCleared,
    SlotFaultRaised,
    SlotUnlocked,
    UnknownBank,
)
from edge.cabinet.inputs import (
    BankInserted,
    BankRemoved,
    CabinetInput,
    Cancel,
    EjectDone,
    EjectFailed,
    InstallerEject,
    InventoryRead,
    LockChanged,
    LockDone,
    LockFailed,
    OffTimeCounted,
    Purpose,
    Rent,
    Reserve,
    SetSlot,
    SlotFaultChanged,
    SlotReading,
    TimerFired,
)
from edge.cabinet.intents import LockSlot, ReadInventory
from edge.cabinet.rent import RentOperation
from edge.cabinet.reservations import Reservation, Reservations
from edge.cabinet.results import CancelResult, ReserveResult, SetSlotResult
from edge.cabinet.slot import (
    BUSY,
    DISABLED,
    EJECTING,
    LOCKING,
    OCCUPIED,
    QUARANTINED,
    RESTING,
    UNKNOWN,
    Bank,
    EjectJob,
    Slot,
    slot_machine,
)
from edge.cabinet.snapshot import (
    SNAPSHOT_VERSION,
    CabinetSnapshot,
    cabinet_snapshot,
    restore_rent,
    restore_reservations,
    restore_slot,
)
from edge.cabinet.telemetry import (
    CabinetDescription,
    CabinetSlot,
    CabinetView,
    RentView,
    ReservationView,
    Reserved,
    SlotView,
)
from edge.clock import Now
from edge.commands.reply import FailureCode, RejectCode
from edge.controller import ControllerBase, SnapshotError, restore_snapshot
from edge.intents import Intent, Reply
from firmware_protocol.slotboard import LockState, SlotFault

__all__ = ["CabinetController", "SnapshotError", "UnknownSlot"]


class UnknownSlot(ValueError):
    """A board event or outcome for a slot number the cabinet does not have (an adapter bug)."""


def fault_names(faults: SlotFault) -> list[str]:
    return [str(flag.name).lower() for flag in SlotFault if flag in faults]


class CabinetController(ControllerBase):
    def __init__(self, slot_count: int, min_charge_pct: int, take_timeout_s: float) -> None:
        if slot_count < 1:
            raise ValueError("a cabinet has at least one slot")
        super().__init__()
        self._slots = [Slot(n, self._outbox, take_timeout_s) for n in range(1, slot_count + 1)]
        self._machine = slot_machine(self._slots)
        self._reservations = Reservations(self._outbox)
        self._rents: dict[str, RentOperation] = {}
        self._min_charge_pct = min_charge_pct
        self._take_timeout_s = take_timeout_s
        self._inventory_read = False

    def handle(self, event: CabinetInput, now: Now) -> list[Intent]:
        match event:
            case InventoryRead(slots=readings):
                self._inventory_read = True
                for reading in readings:
                    self._read(reading, now)
            case BankInserted(slot=number, bank_id=bank_id, charge_pct=charge_pct):
                self._inserted(self._slot(number), Bank(bank_id, charge_pct), now)
            case BankRemoved(slot=number, forced=forced):
                self._removed(self._slot(number), forced, now)
            case LockChanged(slot=number, lock=lock) | LockDone(slot=number, lock=lock):
                self._latch(self._slot(number), lock, now)
            case SlotFaultChanged(slot=number, faults=faults):
                self._fault_bits(self._slot(number), faults)
            case EjectDone(slot=number, lock=lock):
                slot = self._slot(number)
                if slot.state == EJECTING and lock is LockState.UNLOCKED:
                    self._latch(slot, lock, now)
            case EjectFailed(slot=number, code=code):
                self._board_refused_eject(self._slot(number), code)
            case LockFailed(slot=number, code=code):
                self._lock_failed(self._slot(number), code)
            case TimerFired(name=name):
                self._timer_fired(name)
            case OffTimeCounted():
                self._rearm(now)
            case Reserve():
                self._reserve(event, now)
            case Rent():
                self._rent(event, now)
            case Cancel():
                self._cancel(event)
            case SetSlot():
                self._set_slot(event)
            case InstallerEject():
                self._installer_eject(event, now)
        self._prune_reservations()
        self._reply_finished_rents()
        return self._take_outbox()

    def view(self) -> CabinetView:
        """The telemetry fields this controller owns (contract section 5)."""
        return CabinetView(
            slots=[
                CabinetSlot(
                    slot=slot.number,
                    state=self._state_of(slot),
                    bank_id=None if slot.bank is None else slot.bank.bank_id,
                    charge_pct=None if slot.bank is None else slot.bank.charge_pct,
                    enabled=slot.state != DISABLED,
                )
                for slot in self._slots
            ]
        )

    def describe(self) -> CabinetDescription:
        """For `edge-agent status`: the slots, reservations and rents, as last made durable."""
        return CabinetDescription(
            slots=self.view().slots,
            reservations=[
                ReservationView(
                    reservation_id=r.reservation_id,
                    purpose=r.purpose,
                    slots=list(r.slots),
                    expires_at=r.expires_at,
                )
                for r in self._reservations
            ],
            rents=[
                RentView(
                    order_id=rent.order_id,
                    reservation_id=rent.reservation_id,
                    slots=list(rent.slots),
                )
                for rent in self._rents.values()
            ],
        )

    def snapshot(self) -> CabinetSnapshot:
        return cabinet_snapshot(self._slots, self._reservations, list(self._rents.values()))

    @classmethod
    def restore(
        cls,
        saved: JsonValue,
        slot_count: int,
        min_charge_pct: int,
        take_timeout_s: float,
    ) -> CabinetController:
        """After a restart: slots, reservations and rents as they were, each slot `stale`
        until it is read again (the first InventoryRead of it reconciles it). Nothing is sent to
        the boards. Call resume() once next. SnapshotError when `saved` (the store's JSON) is
        not a snapshot of this cabinet."""
        snapshot = restore_snapshot(CabinetSnapshot, saved, SNAPSHOT_VERSION, "cabinet")
        controller = cls(slot_count, min_charge_pct, take_timeout_s)
        try:
            if len(snapshot.slots) != slot_count:
                raise ValueError(
                    f"the snapshot has {len(snapshot.slots)} slots, the cabinet {slot_count}"
                )
            for slot, slot_snapshot in zip(controller._slots, snapshot.slots, strict=True):
                controller._machine.set_state(restore_slot(slot, slot_snapshot), model=slot)
            restore_reservations(controller._reservations, snapshot.reservations)
            for rent_snapshot in snapshot.rents:
                rent = restore_rent(rent_snapshot)
                controller._rents[rent.command_id] = rent
            controller._check_restored()
        except ValueError as error:
            raise SnapshotError(f"malformed cabinet snapshot: {error!r}") from error
        return controller

    def resume(self, now: Now) -> list[Intent]:
        """The timers again after a restart; reservations that ran out while the agent was down
        are released now, with their event."""
        self._rearm(now)
        return self._take_outbox()

    def _rearm(self, now: Now) -> None:
        """The timers again for what is left of them in real time (off times included)."""
        for reservation in self._reservations.rearm(now):
            self._expired(reservation.reservation_id, reservation.purpose, reservation.slots)
        for slot in self._slots:
            if slot.state == EJECTING:
                slot.rearm_take_timer(now)

    # -- what the boards show -------------------------------------------------------------------

    def _read(self, reading: SlotReading, now: Now) -> None:
        slot = self._slot(reading.slot)
        bank = Bank(reading.bank_id, reading.charge_pct) if reading.bank_present else None
        if not slot.read:
            slot.read = True
            if slot.bank is None:
                # The first reading since the agent started: what is there is the stock.
                slot.bank, slot.lock, slot.faults = bank, reading.lock, reading.faults
                slot.trigger("settle")
                return
        observed = slot.stale
        if bank is None:
            self._removed(slot, None, now, observed)
        else:
            self._inserted(slot, bank, now, observed)
        if reading.lock is not slot.lock:
            self._latch(slot, reading.lock, now)
        if reading.faults != slot.faults:
            self._fault_bits(slot, reading.faults)
        if slot.state == UNKNOWN:
            slot.trigger("settle")
        if slot.stale:
            slot.stale = False
            self._reconciled(slot)

    def _reconciled(self, slot: Slot) -> None:
        """The slot's first reading after a restart has been applied."""
        if slot.state == EJECTING and slot.job is not None and not slot.job.opened:
            # The eject may never have reached the board; it is not sent again by itself.
            self._eject_failed(
                slot, FailureCode.HARDWARE_FAULT, "interrupted by a restart of the agent"
            )
        elif slot.state == LOCKING and slot.unlatched():
            slot.trigger("relock")

    def _inserted(self, slot: Slot, bank: Bank, now: Now, observed: bool = False) -> None:
        if slot.bank is not None:
            if slot.bank.same_as(bank):
                if bank.charge_pct is not None:
                    slot.bank.charge_pct = bank.charge_pct
                return
            self._removed(slot, None, now, observed)  # swapped for another bank unseen
        reservation = self._reservations.holder(slot.number)
        if reservation is not None and reservation.purpose == "return":
            self._reservations.let_go(reservation, slot.number)
        else:
            reservation = None
        slot.bank = bank
        self._record(
            records.bank_in(slot.number, bank, reservation, now, observed),
            synced=reservation is None or reservation.reserved_synced is True,
        )
        if bank.bank_id is None:
            self._event(UnknownBank(slot=slot.number, charge_pct=bank.charge_pct))
        if slot.state in RESTING:
            slot.trigger("settle")
        elif slot.unlatched():
            self._outbox.append(LockSlot(slot.number))

    def _removed(self, slot: Slot, forced: bool | None, now: Now, observed: bool = False) -> None:
        bank, job = slot.bank, slot.job
        if bank is None:
            return
        slot.bank = None
        if job is None:
            self._event(
                ForcedRemoval(
                    slot=slot.number,
                    bank_id=bank.bank_id,
                    charge_pct=bank.charge_pct,
                    forced=forced,
                )
            )
            if slot.state != DISABLED:
                slot.trigger("quarantine")
            return
        if not job.opened and not observed:
            job.mark_ejected(now)
        rent = self._rents.get(job.command_id)
        if rent is not None:
            rent.ejected(slot.number)
        self._record(records.bank_out(slot.number, bank, job, now, observed), job.stamps_synced)
        if slot.state in BUSY:
            slot.trigger("finish")
        else:
            slot.job = None

    def _latch(self, slot: Slot, lock: LockState, now: Now) -> None:
        previous, slot.lock = slot.lock, lock
        if slot.state == EJECTING:
            assert slot.job is not None
            if lock is LockState.UNLOCKED and not slot.job.opened:
                slot.latch_opened(now)
                rent = self._rents.get(slot.job.command_id)
                if rent is not None:
                    rent.ejected(slot.number)
            elif lock is LockState.LOCKED and slot.job.opened and slot.bank is not None:
                self._not_taken(slot, "the bank was pushed back in")
                slot.trigger("finish")
        elif slot.state == LOCKING:
            if lock is LockState.LOCKED:
                slot.trigger("finish")
        elif lock is LockState.UNLOCKED and previous is not lock and slot.bank is not None:
            self._event(SlotUnlocked(slot=slot.number, bank_id=slot.bank.bank_id))
            self._outbox.append(LockSlot(slot.number))
            if slot.state not in (DISABLED, QUARANTINED) and slot.read:
                slot.trigger("quarantine")
        elif slot.state in RESTING:
            slot.trigger("settle")

    def _fault_bits(self, slot: Slot, faults: SlotFault) -> None:
        previous, slot.faults = slot.faults, faults
        if faults and faults != previous:
            self._event(SlotFaultRaised(slot=slot.number, faults=fault_names(faults)))
        elif previous and not faults:
            self._event(SlotFaultCleared(slot=slot.number))
        if slot.state == EJECTING and slot.job is not None and not slot.job.opened:
            if faults & SlotFault.LOCK_STUCK:
                self._eject_failed(slot, FailureCode.HARDWARE_FAULT, "the latch is stuck")
        elif slot.state in RESTING:
            slot.trigger("settle")

    # -- outcomes of board requests and timers --------------------------------------------------

    def _board_refused_eject(self, slot: Slot, code: FailureCode) -> None:
        if slot.state == EJECTING and slot.job is not None and not slot.job.opened:
            timed_out = code == FailureCode.HARDWARE_TIMEOUT
            reason = "no response from the board" if timed_out else "the board refused the eject"
            self._eject_failed(slot, code, reason)
            self._outbox.append(ReadInventory())

    def _eject_failed(self, slot: Slot, code: FailureCode, reason: str) -> None:
        assert slot.job is not None
        job = slot.job
        rent = self._rents.get(job.command_id)
        if rent is not None:
            rent.failed(slot.number, code, reason)
        self._event(EjectFailure(slot=slot.number, order_id=job.order_id, code=code, reason=reason))
        slot.drop_job()
        slot.trigger("finish")

    def _lock_failed(self, slot: Slot, code: FailureCode) -> None:
        if slot.state == LOCKING:
            self._event(LockFailure(slot=slot.number, code=code))
            slot.trigger("quarantine")

    def _timer_fired(self, name: str) -> None:
        reservation = self._reservations.timer_fired(name)
        if reservation is not None:
            self._expired(reservation.reservation_id, reservation.purpose, reservation.slots)
            return
        for slot in self._slots:
            if slot.take_timer_fired(name):
                self._take_timed_out(slot)
                return

    def _take_timed_out(self, slot: Slot) -> None:
        assert slot.job is not None
        if not slot.job.opened:
            reason = f"the latch did not open within {self._take_timeout_s:g} s"
            self._eject_failed(slot, FailureCode.HARDWARE_TIMEOUT, reason)
            self._outbox.append(ReadInventory())
            return
        self._not_taken(slot, f"not taken within {self._take_timeout_s:g} s")
        slot.trigger("relock")

    def _not_taken(self, slot: Slot, reason: str) -> None:
        assert slot.job is not None
        assert slot.bank is not None
        self._event(
            EjectNotTaken(
                slot=slot.number,
                order_id=slot.job.order_id,
                bank_id=slot.bank.bank_id,
                reason=reason,
            )
        )

    def _expired(self, reservation_id: str, purpose: Purpose, slots: list[int]) -> None:
        self._event(
            ReservationExpired(reservation_id=reservation_id, purpose=purpose, slots=list(slots))
        )

    # -- commands -------------------------------------------------------------------------------

    def _reserve(self, command: Reserve, now: Now) -> None:
        refusal = self._not_read_yet()
        if refusal is not None:
            self._reject(command.command_id, RejectCode.BUSY, refusal)
            return
        if self._reservations.get(command.reservation_id) is not None:
            detail = f"reservation {command.reservation_id} is already held"
            self._reject(command.command_id, RejectCode.NOT_ALLOWED, detail)
            return
        if command.purpose == "rent":
            picked = self._pick_banks(command.command_id, command.count)
        else:
            picked = self._pick_empty(command.command_id, command.count)
        if isinstance(picked, Reply):
            self._outbox.append(picked)
            return
        slots = sorted(slot.number for slot in picked)
        reservation = self._reservations.hold(
            command.reservation_id, command.purpose, slots, command.ttl_s, now
        )
        result = ReserveResult(
            reservation_id=reservation.reservation_id,
            purpose=reservation.purpose,
            slots=list(slots),
            expires_at=reservation.expires_at,
        )
        self._ok(command.command_id, result)

    def _rent(self, command: Rent, now: Now) -> None:
        refusal = self._not_read_yet()
        if refusal is not None:
            self._reject(command.command_id, RejectCode.BUSY, refusal)
            return
        picked = self._rent_slots(command)
        if isinstance(picked, Reply):
            self._outbox.append(picked)
            return
        slots, reservation = picked
        rent = RentOperation(
            command.command_id,
            command.order_id,
            command.reservation_id,
            [slot.number for slot in slots],
        )
        self._rents[rent.command_id] = rent
        for slot in slots:
            job = EjectJob(rent.command_id, rent.order_id, rent.reservation_id, None)
            if reservation is not None:
                job.reserved_at = reservation.reserved_at
                job.reserved_synced = reservation.reserved_synced
            slot.begin_eject(job, now)

    def _rent_slots(self, command: Rent) -> tuple[list[Slot], Reservation | None] | Reply:
        """The slots a rent ejects and its reservation (now ended), or the refusal."""

        def refuse(code: RejectCode, detail: str) -> Reply:
            return Reply(command.command_id, "rejected", code, detail)

        if command.reservation_id is None:
            if command.count is None or command.count < 1:
                return refuse(RejectCode.NOT_ALLOWED, "needs a reservation_id or a count")
            picked = self._pick_banks(command.command_id, command.count)
            return picked if isinstance(picked, Reply) else (picked, None)
        if command.count is not None:
            return refuse(RejectCode.NOT_ALLOWED, "needs a reservation_id or a count, not both")
        reservation = self._reservations.get(command.reservation_id)
        if reservation is None:
            renting = [
                r for r in self._rents.values() if r.reservation_id == command.reservation_id
            ]
            if renting:
                detail = f"reservation {command.reservation_id} is being ejected for order "
                return refuse(RejectCode.BUSY, detail + renting[0].order_id)
            return refuse(
                RejectCode.NOT_ALLOWED, f"no reservation {command.reservation_id} is held"
            )
        if reservation.purpose != "rent":
            return refuse(
                RejectCode.NOT_ALLOWED, f"reservation {command.reservation_id} is for a return"
            )
        slots = [self._slot(number) for number in reservation.slots]
        unread = [slot.number for slot in slots if slot.stale]
        if unread:
            return refuse(RejectCode.BUSY, f"slots {unread} not read since the agent restarted")
        assert all(slot.state == OCCUPIED for slot in slots)
        self._reservations.end(reservation)
        return slots, reservation

    def _pick_banks(self, command_id: str, count: int) -> list[Slot] | Reply:
        """The `count` best free banks, or the refusal: `busy` when banks being locked back
        in would make up the difference."""
        free = self._reservations.free_banks(self._slots, self._min_charge_pct)
        if count >= 1 and len(free) >= count:
            return free[:count]
        what = f"{count} banks charged to at least {self._min_charge_pct} % asked for"
        soon = self._reservations.relocking_banks(self._slots, self._min_charge_pct)
        if count >= 1 and len(free) + len(soon) >= count:
            detail = f"{what}, {len(free)} available and {len(soon)} being locked back in"
            return Reply(command_id, "rejected", RejectCode.BUSY, detail)
        return Reply(
            command_id, "rejected", RejectCode.NOT_ALLOWED, f"{what}, {len(free)} available"
        )

    def _pick_empty(self, command_id: str, count: int) -> list[Slot] | Reply:
        free = self._reservations.free_empty(self._slots)
        if count >= 1 and len(free) >= count:
            return free[:count]
        detail = f"{count} empty slots asked for, {len(free)} available"
        return Reply(command_id, "rejected", RejectCode.NOT_ALLOWED, detail)

    def _cancel(self, command: Cancel) -> None:
        reservation = self._reservations.get(command.reservation_id)
        if reservation is None:
            detail = f"no reservation {command.reservation_id} is held"
            self._reject(command.command_id, RejectCode.NOT_ALLOWED, detail)
            return
        self._reservations.end(reservation)
        result = CancelResult(
            reservation_id=reservation.reservation_id, released=list(reservation.slots)
        )
        self._ok(command.command_id, result)

    def _set_slot(self, command: SetSlot) -> None:
        if not 1 <= command.slot <= len(self._slots):
            detail = f"no slot {command.slot}: the slots are 1 to {len(self._slots)}"
            self._reject(command.command_id, RejectCode.NOT_ALLOWED, detail)
            return
        slot = self._slot(command.slot)
        if not command.enabled:
            if slot.state in BUSY:
                detail = f"slot {slot.number} is {slot.state}"
                self._reject(command.command_id, RejectCode.BUSY, detail)
                return
            slot.trigger("disable")
        elif slot.state in (DISABLED, QUARANTINED):
            slot.trigger("enable")
        result = SetSlotResult(slot=slot.number, enabled=command.enabled, state=slot.state)
        self._ok(command.command_id, result)

    def _installer_eject(self, command: InstallerEject, now: Now) -> None:
        """An installer's eject of one slot: refused unless it holds a bank nobody reserved."""
        refusal = self._not_read_yet()
        if refusal is not None:
            self._reject(command.command_id, RejectCode.BUSY, refusal)
            return
        if not 1 <= command.slot <= len(self._slots):
            detail = f"no slot {command.slot}: the slots are 1 to {len(self._slots)}"
            self._reject(command.command_id, RejectCode.NOT_ALLOWED, detail)
            return
        slot = self._slot(command.slot)
        reservation = self._reservations.holder(slot.number)
        if slot.stale:
            detail = f"slot {slot.number} not read since the agent restarted"
            self._reject(command.command_id, RejectCode.BUSY, detail)
        elif reservation is not None:
            detail = f"slot {slot.number} is held by reservation {reservation.reservation_id}"
            self._reject(command.command_id, RejectCode.NOT_ALLOWED, detail)
        elif slot.state != OCCUPIED or slot.bank is None:
            detail = f"slot {slot.number} is {slot.state}: no bank to eject"
            self._reject(command.command_id, RejectCode.NOT_ALLOWED, detail)
        else:
            grant = command.command_id
            self._record(records.installer_eject(grant, slot.number, slot.bank))
            self._rents[grant] = RentOperation(grant, grant, None, [slot.number])
            slot.begin_eject(EjectJob(grant, grant, None, None, grant_id=grant), now)

    def _not_read_yet(self) -> str | None:
        if self._inventory_read:
            return None
        return "the slots have not been read since the agent started"

    # -- bookkeeping ----------------------------------------------------------------------------

    def _prune_reservations(self) -> None:
        """A slot that is no longer what its reservation holds leaves it."""
        for reservation in self._reservations:
            for number in list(reservation.slots):
                slot = self._slot(number)
                if slot.stale or slot.state == reservation.holds:
                    continue
                self._event(
                    ReservationSlotLost(
                        reservation_id=reservation.reservation_id, slot=number, state=slot.state
                    )
                )
                self._reservations.let_go(reservation, number)

    def _reply_finished_rents(self) -> None:
        for command_id, rent in list(self._rents.items()):
            if rent.done:
                del self._rents[command_id]
                self._outbox.append(rent.reply())

    def _state_of(self, slot: Slot) -> SlotView:
        reservation = self._reservations.holder(slot.number)
        if reservation is not None and slot.state == reservation.holds:
            return Reserved(f"reserved_{reservation.purpose}")
        return slot.state

    def _check_restored(self) -> None:
        held: set[int] = set()
        for reservation in self._reservations:
            for number in reservation.slots:
                if number in held or not 1 <= number <= len(self._slots):
                    raise ValueError(f"slot {number} reserved twice or out of range")
                held.add(number)
        for slot in self._slots:
            job = slot.job
            if job is not None and not job.opened and job.command_id not in self._rents:
                raise ValueError(f"slot {slot.number} ejecting for no rent under way")

    def _slot(self, number: int) -> Slot:
        if not 1 <= number <= len(self._slots):
            raise UnknownSlot(f"no slot {number}: the slots are 1 to {len(self._slots)}")
        return self._slots[number - 1]

"""The cabinet controller through its public interface: events in, intents out."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cabinet_driver import (
    LOCKED,
    MIN_CHARGE,
    SLOTS,
    TAKE_TIMEOUT_S,
    UNLOCKED,
    Cabinet,
    of_type,
    reading,
    wall,
)

from edge.cabinet.controller import CabinetController, SnapshotError, UnknownSlot
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
    Cancel,
    EjectDone,
    EjectFailed,
    InventoryRead,
    LockChanged,
    LockDone,
    LockFailed,
    Rent,
    Reserve,
    SetSlot,
    SlotFaultChanged,
    TimerFired,
)
from edge.cabinet.intents import Eject, LockSlot, ReadInventory
from edge.cabinet.records import BankIn, BankOut
from edge.cabinet.results import CancelResult, FailedEject, RentResult, ReserveResult
from edge.cabinet.slot import SlotState
from edge.commands.reply import FailureCode
from edge.intents import CancelTimer, RaiseEvent, Reply, StartTimer, WriteRecord
from firmware_protocol.slotboard import SlotFault

HARDWARE_FAULT = FailureCode.HARDWARE_FAULT
HARDWARE_TIMEOUT = FailureCode.HARDWARE_TIMEOUT

STOCK = {1: ("PB01", 85), 2: ("PB02", 100), 3: ("PB03", 60), 4: ("PB04", 100)}


def stocked() -> Cabinet:
    return Cabinet(STOCK)


def reserve(box: Cabinet, purpose: str = "rent", count: int = 2, rid: str = "res-1") -> Reply:
    return box.reply(box.send(Reserve(box.command_id(), rid, purpose, count, 600)))  # type: ignore[arg-type]


def test_view_after_the_first_inventory() -> None:
    box = Cabinet()
    assert box.states() == ["unknown"] * SLOTS
    box.send(box.inventory(STOCK))
    assert [slot.model_dump() for slot in box.controller.view().slots[:5]] == [
        {"slot": 1, "state": "occupied", "bank_id": "PB01", "charge_pct": 85, "enabled": True},
        {"slot": 2, "state": "occupied", "bank_id": "PB02", "charge_pct": 100, "enabled": True},
        {"slot": 3, "state": "occupied", "bank_id": "PB03", "charge_pct": 60, "enabled": True},
        {"slot": 4, "state": "occupied", "bank_id": "PB04", "charge_pct": 100, "enabled": True},
        {"slot": 5, "state": "empty", "bank_id": None, "charge_pct": None, "enabled": True},
    ]


def test_commands_are_busy_until_the_slots_are_read() -> None:
    box = Cabinet()
    for command in (
        Reserve("c1", "res-1", "rent", 1, 60),
        Rent("c2", "order-1", count=1),
    ):
        reply = box.reply(box.send(command))
        assert (reply.status, reply.code) == ("rejected", "busy")


def test_reserve_for_rent_picks_the_fullest_charged_banks() -> None:
    box = stocked()
    intents = box.send(Reserve("c1", "res-1", "rent", 2, 600))
    assert intents == [
        StartTimer("reservation:1", 600),
        Reply(
            "c1",
            "ok",
            result=ReserveResult(
                reservation_id="res-1",
                purpose="rent",
                slots=[2, 4],
                expires_at=wall(box.mono + 600),
            ),
        ),
    ]
    assert box.states()[:4] == ["occupied", "reserved_rent", "occupied", "reserved_rent"]
    # Only slot 1 is left at or above 80 %: all or nothing.
    refused = reserve(box, count=2, rid="res-2")
    assert (refused.status, refused.code) == ("rejected", "not_allowed")
    assert refused.detail == "2 banks charged to at least 80 % asked for, 1 available"
    again = reserve(box, count=1, rid="res-1")
    assert (again.code, again.detail) == ("not_allowed", "reservation res-1 is already held")


def test_reserve_for_return_picks_the_lowest_empty_slots() -> None:
    box = stocked()
    assert reserve(box, "return", 1).result.model_dump() == {  # type: ignore[union-attr]
        "reservation_id": "res-1",
        "purpose": "return",
        "slots": [5],
        "expires_at": wall(box.mono + 600),
    }
    assert box.state(5) == "reserved_return"
    assert reserve(box, "return", 2, rid="res-2").detail == "2 empty slots asked for, 1 available"


def test_a_reservation_expires_or_is_cancelled() -> None:
    box = stocked()
    reserve(box, count=1)
    box.wait(600)
    assert box.send(TimerFired("reservation:1")) == [
        RaiseEvent(ReservationExpired(reservation_id="res-1", purpose="rent", slots=[2]))
    ]
    assert box.state(2) == "occupied"
    reserve(box, "return", 1, rid="res-2")
    assert box.send(Cancel("c9", "res-2")) == [
        CancelTimer("reservation:2"),
        Reply("c9", "ok", result=CancelResult(reservation_id="res-2", released=[5])),
    ]
    unknown = box.reply(box.send(Cancel("c10", "res-2")))
    assert (unknown.code, unknown.detail) == ("not_allowed", "no reservation res-2 is held")


def test_rent_of_a_reservation_from_eject_to_bank_out() -> None:
    box = stocked()
    reserved_at = box.now.wall
    reserve(box, count=2)
    box.wait(40)
    assert box.send(Rent("c2", "order-1", reservation_id="res-1")) == [
        CancelTimer("reservation:1"),
        Eject(2),
        StartTimer("take:2:1", TAKE_TIMEOUT_S),
        Eject(4),
        StartTimer("take:4:1", TAKE_TIMEOUT_S),
    ]
    assert box.states()[:4] == ["occupied", "ejecting", "occupied", "ejecting"]
    assert box.send(EjectDone(2, LOCKED)) == []
    box.wait(0.3)
    ejected_at = box.now.wall
    assert box.send(LockChanged(2, UNLOCKED)) == [
        CancelTimer("take:2:1"),
        StartTimer("take:2:2", TAKE_TIMEOUT_S),
    ]
    assert box.send(EjectDone(4, UNLOCKED)) == [
        CancelTimer("take:4:1"),
        StartTimer("take:4:2", TAKE_TIMEOUT_S),
        Reply(
            "c2",
            "ok",
            result=RentResult(
                order_id="order-1",
                reservation_id="res-1",
                ejected=[2, 4],
                failed=[],
            ),
        ),
    ]
    box.wait(5)
    assert box.send(BankRemoved(2, forced=False)) == [
        WriteRecord(
            BankOut(
                order_id="order-1",
                reservation_id="res-1",
                slot=2,
                bank_id="PB02",
                charge_pct=100,
                reserved_at=reserved_at,
                ejected_at=ejected_at,
                taken_at=box.now.wall,
                seen_at=box.now.wall,
                observed_after_restart=False,
            ),
        ),
        CancelTimer("take:2:2"),
    ]
    assert box.state(2) == "empty"
    assert box.send(LockChanged(2, LOCKED)) == []
    assert box.state(2) == "empty"


def test_rent_by_count_and_its_refusals() -> None:
    box = stocked()
    intents = box.send(Rent("c1", "order-1", count=2))
    assert of_type(intents, Eject) == [Eject(2), Eject(4)]
    refused = box.reply(box.send(Rent("c2", "order-2", count=2)))
    assert refused.detail == "2 banks charged to at least 80 % asked for, 1 available"
    for rent, detail in [
        (Rent("c3", "order-3", reservation_id="nope"), "no reservation nope is held"),
        (Rent("c4", "order-4"), "needs a reservation_id or a count"),
        (Rent("c5", "order-5", "res-1", 1), "needs a reservation_id or a count, not both"),
    ]:
        reply = box.reply(box.send(rent))
        assert (reply.status, reply.code, reply.detail) == ("rejected", "not_allowed", detail)
    reserve(box, "return", 1, rid="ret-1")
    wrong = box.reply(box.send(Rent("c6", "order-6", reservation_id="ret-1")))
    assert wrong.detail == "reservation ret-1 is for a return"


def test_a_partial_rent_fails_and_says_exactly_what_ejected() -> None:
    box = stocked()
    box.send(Rent("c1", "order-1", count=3))  # slots 2, 4, 1
    box.send(LockChanged(2, UNLOCKED))
    failed = box.send(EjectFailed(4, HARDWARE_FAULT))
    assert (
        RaiseEvent(
            EjectFailure(
                slot=4,
                order_id="order-1",
                code=HARDWARE_FAULT,
                reason="the board refused the eject",
            ),
        )
        in failed
    )
    assert ReadInventory() in failed
    assert box.state(4) == "occupied"
    box.wait(TAKE_TIMEOUT_S)
    timed_out = box.send(TimerFired("take:1:1"))
    assert box.reply(timed_out) == Reply(
        "c1",
        "failed",
        "hardware_fault",
        "ejected 1 of 3; slot 4: the board refused the eject; "
        "slot 1: the latch did not open within 30 s",
        RentResult(
            order_id="order-1",
            reservation_id=None,
            ejected=[2],
            failed=[
                FailedEject(slot=4, code=HARDWARE_FAULT, reason="the board refused the eject"),
                FailedEject(
                    slot=1,
                    code=HARDWARE_TIMEOUT,
                    reason="the latch did not open within 30 s",
                ),
            ],
        ),
    )


def test_all_timeouts_fail_with_hardware_timeout() -> None:
    box = stocked()
    box.send(Rent("c1", "order-1", count=1))
    reply = box.reply(box.send(EjectFailed(2, HARDWARE_TIMEOUT)))
    assert (reply.status, reply.code) == ("failed", "hardware_timeout")
    assert reply.detail == "ejected 0 of 1; slot 2: no response from the board"


def test_a_stuck_latch_fails_the_eject() -> None:
    box = stocked()
    box.send(Rent("c1", "order-1", count=1))
    intents = box.send(SlotFaultChanged(2, SlotFault.LOCK_STUCK))
    assert RaiseEvent(SlotFaultRaised(slot=2, faults=["lock_stuck"])) in intents
    assert box.reply(intents).code == "hardware_fault"
    assert box.state(2) == "fault"
    assert box.send(SlotFaultChanged(2, SlotFault(0))) == [RaiseEvent(SlotFaultCleared(slot=2))]
    assert box.state(2) == "occupied"


def test_a_bank_not_taken_is_locked_back_in() -> None:
    box = stocked()
    box.send(Rent("c1", "order-1", count=1))
    box.send(LockChanged(2, UNLOCKED))
    box.wait(TAKE_TIMEOUT_S)
    assert box.send(TimerFired("take:2:2")) == [
        RaiseEvent(
            EjectNotTaken(
                slot=2,
                order_id="order-1",
                bank_id="PB02",
                reason="not taken within 30 s",
            ),
        ),
        LockSlot(2),
    ]
    assert box.state(2) == "locking"
    assert box.send(LockDone(2, LOCKED)) == []
    assert box.state(2) == "occupied"
    # The bank is the cabinet's again: taking it now is a forced removal, not a rent.
    removal = box.send(BankRemoved(2, forced=True))[0]
    assert removal.event.event_type == "forced_removal"  # type: ignore[union-attr]


def test_a_late_take_while_locking_is_still_the_rents_bank_out() -> None:
    box = stocked()
    box.send(Rent("c1", "order-1", count=1))
    box.send(LockChanged(2, UNLOCKED))
    box.send(TimerFired("take:2:2"))
    box.send(LockDone(2, UNLOCKED))  # the latch shut, the bank still sticks out
    (record,) = of_type(box.send(BankRemoved(2, forced=False)), WriteRecord)
    assert (record.record.record_type, record.record.order_id) == ("bank_out", "order-1")  # type: ignore[attr-defined]
    assert box.state(2) == "empty"


def test_a_relock_that_fails_quarantines_the_slot() -> None:
    box = stocked()
    box.send(Rent("c1", "order-1", count=1))
    box.send(LockChanged(2, UNLOCKED))
    box.send(TimerFired("take:2:2"))
    assert box.send(LockFailed(2, HARDWARE_FAULT)) == [
        RaiseEvent(LockFailure(slot=2, code=HARDWARE_FAULT))
    ]
    assert box.state(2) == "quarantined"
    # Taken after all: the rent's bank.
    taken = of_type(box.send(BankRemoved(2, forced=False)), WriteRecord)[0]
    assert taken.record.record_type == "bank_out"
    box.send(SetSlot("c2", 2, True))
    assert box.state(2) == "empty"


def test_a_return_into_a_reserved_slot() -> None:
    box = stocked()
    reserved_at = box.now.wall
    reserve(box, "return", 2)  # slots 5 and 6
    box.wait(100)
    intents = box.send(BankInserted(6, "PB77", 12))
    assert intents == [
        WriteRecord(
            BankIn(
                slot=6,
                bank_id="PB77",
                charge_pct=12,
                reservation_id="res-1",
                reserved_at=reserved_at,
                returned_at=box.now.wall,
                seen_at=box.now.wall,
                observed_after_restart=False,
            ),
        )
    ]
    assert box.states()[4:] == ["reserved_return", "occupied"]
    assert box.send(BankInserted(6, "PB77", 13)) == []  # the same event again
    last = box.send(BankInserted(5, "PB78", 50))
    assert CancelTimer("reservation:1") in last  # every slot returned: the reservation is done
    assert box.send(Cancel("c9", "res-1"))[0].code == "not_allowed"  # type: ignore[union-attr]


def test_an_unidentified_bank_is_recorded_and_locked_in() -> None:
    box = stocked()
    box.send(LockChanged(5, UNLOCKED))
    intents = box.send(BankInserted(5, None, 40))
    record = of_type(intents, WriteRecord)[0]
    assert record.record.bank_id is None  # type: ignore[attr-defined]
    assert RaiseEvent(UnknownBank(slot=5, charge_pct=40)) in intents
    assert LockSlot(5) in intents
    assert box.state(5) == "locking"
    box.send(LockDone(5, LOCKED))
    box.send(SlotFaultChanged(5, SlotFault.ID_UNREADABLE))
    assert box.state(5) == "fault"
    assert box.reply(box.send(Rent("c1", "order-1", count=4))).status == "rejected"


def test_a_forced_removal_quarantines_until_enabled() -> None:
    box = stocked()
    reserve(box, count=1)  # slot 2
    intents = box.send(BankRemoved(2, forced=True))
    assert intents == [
        RaiseEvent(
            ForcedRemoval(slot=2, bank_id="PB02", charge_pct=100, forced=True),
        ),
        RaiseEvent(
            ReservationSlotLost(reservation_id="res-1", slot=2, state=SlotState.QUARANTINED)
        ),
        CancelTimer("reservation:1"),
    ]
    assert of_type(intents, WriteRecord) == []
    assert box.state(2) == "quarantined"
    assert box.reply(box.send(SetSlot("c1", 2, True))).result.model_dump() == {  # type: ignore[union-attr]
        "slot": 2,
        "enabled": True,
        "state": "empty",
    }


def test_set_slot() -> None:
    box = stocked()
    reserve(box, count=1)
    intents = box.send(SetSlot("c1", 2, False))
    assert box.reply(intents).result.model_dump() == {  # type: ignore[union-attr]
        "slot": 2,
        "enabled": False,
        "state": "disabled",
    }
    assert (
        RaiseEvent(ReservationSlotLost(reservation_id="res-1", slot=2, state=SlotState.DISABLED))
        in intents
    )
    assert box.controller.view().slots[1].enabled is False
    box.send(Rent("c2", "order-1", count=1))  # slot 4
    busy = box.reply(box.send(SetSlot("c3", 4, False)))
    assert (busy.code, busy.detail) == ("busy", "slot 4 is ejecting")
    assert box.reply(box.send(SetSlot("c4", 99, False))).code == "not_allowed"
    box.send(SetSlot("c5", 2, True))
    assert box.state(2) == "occupied"


def test_a_latch_opening_by_itself_quarantines_and_locks() -> None:
    box = stocked()
    assert box.send(LockChanged(3, UNLOCKED)) == [
        RaiseEvent(SlotUnlocked(slot=3, bank_id="PB03")),
        LockSlot(3),
    ]
    assert box.state(3) == "quarantined"


def test_fault_bits_put_a_slot_in_fault_until_cleared() -> None:
    box = stocked()
    box.send(box.inventory(STOCK))
    intents = box.send(
        InventoryRead(
            (reading(1, "PB01", 85, faults=SlotFault.OVERTEMP | SlotFault.CHARGER_FAULT),)
        )
    )
    assert intents == [RaiseEvent(SlotFaultRaised(slot=1, faults=["overtemp", "charger_fault"]))]
    assert box.state(1) == "fault"
    box.send(box.inventory(STOCK))
    assert box.state(1) == "occupied"


def test_a_board_event_for_no_slot_is_an_adapter_bug() -> None:
    with pytest.raises(UnknownSlot):
        stocked().send(BankRemoved(SLOTS + 1, forced=False))


# -- restarts ---------------------------------------------------------------------------------


def test_what_happened_while_the_agent_was_down_is_recorded_once_read() -> None:
    box = stocked()
    box.send(Rent("c1", "order-1", count=1))  # slot 2
    box.send(LockChanged(2, UNLOCKED))
    reserve(box, "return", 1)  # slot 5
    box.wait(100)
    resumed = box.restart()
    assert resumed == [StartTimer("reservation:2", 500.0), StartTimer("take:2:3", 0.0)]
    busy = box.reply(box.send(Rent("c2", "order-2", count=1)))
    assert (busy.code, busy.detail) == (
        "busy",
        "the slots have not been read since the agent started",
    )
    stock = {**STOCK, 5: ("PB55", 30)}
    del stock[2]
    intents = box.send(box.inventory(stock))
    records = {
        written.record.record_type: written.record.model_dump()
        for written in of_type(intents, WriteRecord)
    }
    assert records["bank_out"]["observed_after_restart"] is True
    assert records["bank_out"]["taken_at"] is None
    assert records["bank_out"]["seen_at"] == box.now.wall
    assert records["bank_in"] == {
        "slot": 5,
        "bank_id": "PB55",
        "charge_pct": 30,
        "reservation_id": "res-1",
        "reserved_at": wall(1000.0),
        "returned_at": None,
        "seen_at": box.now.wall,
        "observed_after_restart": True,
    }
    assert box.states()[:5] == ["occupied", "empty", "occupied", "occupied", "occupied"]


def test_a_reservation_that_ran_out_while_down_is_released_on_resume() -> None:
    box = stocked()
    reserve(box, count=1)
    box.wait(601)
    assert box.restart() == [
        RaiseEvent(ReservationExpired(reservation_id="res-1", purpose="rent", slots=[2]))
    ]
    still = stocked()
    reserve(still, count=1)
    still.wait(100)
    assert still.restart() == [StartTimer("reservation:2", 500.0)]


def test_an_eject_not_yet_opened_at_a_crash_fails_and_is_not_sent_again() -> None:
    box = stocked()
    box.send(Rent("c1", "order-1", count=1))
    resumed = box.restart()
    assert of_type(resumed, Eject) == []
    intents = box.send(box.inventory(STOCK))
    reply = box.reply(intents)
    assert (reply.status, reply.code) == ("failed", "hardware_fault")
    assert reply.detail == "ejected 0 of 1; slot 2: interrupted by a restart of the agent"
    assert of_type(intents, Eject) == []
    assert box.state(2) == "occupied"


def test_an_eject_that_opened_before_the_crash_is_replied_ok_once_read() -> None:
    box = stocked()
    box.send(Rent("c1", "order-1", count=1))
    box.restart()
    read = box.send(InventoryRead((reading(2, "PB02", 100, lock=UNLOCKED),)))
    assert box.reply(read).status == "ok"
    assert box.state(2) == "ejecting"


def test_a_slot_locking_at_a_crash_is_locked_again() -> None:
    box = stocked()
    box.send(Rent("c1", "order-1", count=1))
    box.send(LockChanged(2, UNLOCKED))
    box.send(TimerFired("take:2:2"))
    box.restart()
    intents = box.send(InventoryRead((reading(2, "PB02", 100, lock=UNLOCKED),)))
    assert intents == [LockSlot(2)]


def test_restore_refuses_a_malformed_snapshot() -> None:
    box = stocked()
    snapshot = box.controller.snapshot().model_dump(mode="json")
    with pytest.raises(SnapshotError):
        CabinetController.restore({**snapshot, "version": 99}, SLOTS, 80, 30)
    with pytest.raises(SnapshotError):
        CabinetController.restore(snapshot, SLOTS + 1, 80, 30)
    broken = {
        **snapshot,
        "slots": [{**snapshot["slots"][0], "state": "flying"}, *snapshot["slots"][1:]],
    }
    with pytest.raises(SnapshotError):
        CabinetController.restore(broken, SLOTS, 80, 30)


def test_busy_while_the_same_banks_are_being_ejected_or_locked_back() -> None:
    box = stocked()
    reserve(box, count=2)
    box.send(Rent("c1", "order-1", reservation_id="res-1"))  # slots 2 and 4
    again = box.reply(box.send(Rent("c2", "order-1", reservation_id="res-1")))
    assert (again.code, again.detail) == (
        "busy",
        "reservation res-1 is being ejected for order order-1",
    )
    box.send(LockChanged(2, UNLOCKED))
    box.send(LockChanged(4, UNLOCKED))
    box.send(TimerFired("take:2:2"))  # not taken: slot 2 is being locked back in
    soon = box.reply(box.send(Rent("c3", "order-2", count=2)))
    assert (soon.code, soon.detail) == (
        "busy",
        "2 banks charged to at least 80 % asked for, 1 available and 1 being locked back in",
    )
    box.send(LockDone(2, LOCKED))
    assert of_type(box.send(Rent("c4", "order-2", count=2)), Eject) == [Eject(2), Eject(1)]


# -- snapshots written before the typed models --------------------------------------------

OLD_SNAPSHOT = """{
 "version": 1,
 "slots": [
  {
   "slot": 1,
   "state": "ejecting",
   "read": true,
   "bank": {
    "bank_id": "PB01",
    "charge_pct": 85
   },
   "lock": "locked",
   "faults": 0,
   "job": {
    "command_id": "c2",
    "order_id": "order-1",
    "reservation_id": null,
    "reserved_at": null,
    "ejected_at": null,
    "deadline_mono": 1040.0,
    "timer": "take:1:1"
   },
   "timer_seq": 1
  },
  {
   "slot": 2,
   "state": "ejecting",
   "read": true,
   "bank": {
    "bank_id": "PB02",
    "charge_pct": 100
   },
   "lock": "unlocked",
   "faults": 0,
   "job": {
    "command_id": "c2",
    "order_id": "order-1",
    "reservation_id": null,
    "reserved_at": null,
    "ejected_at": "2026-11-23T18:16:50.500Z",
    "deadline_mono": 1040.5,
    "timer": "take:2:2"
   },
   "timer_seq": 2
  },
  {
   "slot": 3,
   "state": "disabled",
   "read": true,
   "bank": {
    "bank_id": "PB03",
    "charge_pct": 60
   },
   "lock": "locked",
   "faults": 0,
   "job": null,
   "timer_seq": 0
  },
  {
   "slot": 4,
   "state": "occupied",
   "read": true,
   "bank": {
    "bank_id": "PB04",
    "charge_pct": 100
   },
   "lock": "locked",
   "faults": 0,
   "job": null,
   "timer_seq": 1
  },
  {
   "slot": 5,
   "state": "empty",
   "read": true,
   "bank": null,
   "lock": "locked",
   "faults": 0,
   "job": null,
   "timer_seq": 0
  },
  {
   "slot": 6,
   "state": "fault",
   "read": true,
   "bank": null,
   "lock": "locked",
   "faults": 4,
   "job": null,
   "timer_seq": 0
  }
 ],
 "reservations": {
  "timer_seq": 1,
  "held": [
   {
    "reservation_id": "res-1",
    "purpose": "return",
    "slots": [
     5
    ],
    "reserved_at": "2026-11-23T18:16:40.000Z",
    "expires_mono": 1600.0,
    "expires_at": "2026-11-23T18:26:40.000Z"
   }
  ]
 },
 "rents": [
  {
   "command_id": "c2",
   "order_id": "order-1",
   "reservation_id": null,
   "slots": [
    2,
    4,
    1
   ],
   "outcomes": [
    {
     "slot": 2,
     "outcome": "ejected",
     "reason": null
    },
    {
     "slot": 4,
     "outcome": "hardware_fault",
     "reason": "the board refused the eject"
    }
   ]
  }
 ]
}"""
"""What the dict snapshot of the earlier controller wrote for `old_scenario()` (as the store
keeps it): two slots ejecting for one rent (one latch opened, the other not yet), a failed eject,
a disabled slot, one in fault, a return reservation."""

OLD_DESCRIPTION = """{
 "slots": [
  {
   "slot": 1,
   "state": "ejecting",
   "bank_id": "PB01",
   "charge_pct": 85,
   "enabled": true
  },
  {
   "slot": 2,
   "state": "ejecting",
   "bank_id": "PB02",
   "charge_pct": 100,
   "enabled": true
  },
  {
   "slot": 3,
   "state": "disabled",
   "bank_id": "PB03",
   "charge_pct": 60,
   "enabled": false
  },
  {
   "slot": 4,
   "state": "occupied",
   "bank_id": "PB04",
   "charge_pct": 100,
   "enabled": true
  },
  {
   "slot": 5,
   "state": "reserved_return",
   "bank_id": null,
   "charge_pct": null,
   "enabled": true
  },
  {
   "slot": 6,
   "state": "fault",
   "bank_id": null,
   "charge_pct": null,
   "enabled": true
  }
 ],
 "reservations": [
  {
   "reservation_id": "res-1",
   "purpose": "return",
   "slots": [
    5
   ],
   "expires_at": "2026-11-23T18:26:40.000Z"
  }
 ],
 "rents": [
  {
   "order_id": "order-1",
   "reservation_id": null,
   "slots": [
    2,
    4,
    1
   ]
  }
 ]
}"""


def old_scenario() -> Cabinet:
    box = stocked()
    box.send(Reserve("c1", "res-1", "return", 1, 600))  # slot 5
    box.wait(10)
    box.send(Rent("c2", "order-1", count=3))  # slots 2, 4, 1
    box.wait(0.5)
    box.send(LockChanged(2, UNLOCKED))
    box.send(EjectFailed(4, HARDWARE_FAULT))
    box.send(SetSlot("c3", 3, False))
    box.send(InventoryRead((reading(6, faults=SlotFault.OVERTEMP),)))
    return box


def with_synced_stamps(snapshot: dict[str, Any]) -> dict[str, Any]:
    """`snapshot` as a box writes it now: each time taken (on a synced clock) says so."""
    for slot in snapshot["slots"]:
        job = slot["job"]
        if job is not None and job["ejected_at"] is not None:
            job["ejected_synced"] = True
    for reservation in snapshot["reservations"]["held"]:
        reservation["reserved_synced"] = True
    return snapshot


def test_the_snapshot_json_is_the_one_earlier_versions_wrote() -> None:
    """The earlier JSON, plus whether each time was taken on a synced clock."""
    box = old_scenario()
    assert box.controller.snapshot().model_dump_json() == json.dumps(
        with_synced_stamps(json.loads(OLD_SNAPSHOT)), separators=(",", ":")
    )
    assert box.controller.describe().model_dump(mode="json") == json.loads(OLD_DESCRIPTION)


def test_an_old_snapshot_restores_and_round_trips() -> None:
    saved = json.loads(OLD_SNAPSHOT)
    controller = CabinetController.restore(saved, SLOTS, MIN_CHARGE, TAKE_TIMEOUT_S)
    assert controller.describe().model_dump(mode="json") == json.loads(OLD_DESCRIPTION)
    # Timers do not survive a restart (resume() starts them again): all else is as saved.
    for slot in saved["slots"]:
        if slot["job"] is not None:
            slot["job"]["timer"] = None
    again = controller.snapshot().model_dump_json()
    assert again == json.dumps(saved, separators=(",", ":"))
    restored = CabinetController.restore(json.loads(again), SLOTS, MIN_CHARGE, TAKE_TIMEOUT_S)
    assert restored.snapshot() == controller.snapshot()
    assert restored.resume(Cabinet().now) == controller.resume(Cabinet().now)
    assert restored.handle(reading_all_but(2), Cabinet().now) == controller.handle(
        reading_all_but(2), Cabinet().now
    )


def reading_all_but(taken: int) -> InventoryRead:
    return InventoryRead(
        tuple(
            reading(n, *STOCK[n]) if n in STOCK and n != taken else reading(n)
            for n in range(1, SLOTS + 1)
        )
    )

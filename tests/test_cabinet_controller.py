"""The cabinet controller through its public interface: events in, intents out."""

from __future__ import annotations

import pytest
from cabinet_harness import (
    LOCKED,
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
from edge.cabinet.intents import (
    CancelTimer,
    Eject,
    Event,
    LockSlot,
    ReadInventory,
    Reply,
    StartTimer,
    WriteRecord,
)
from firmware_protocol.slotboard import SlotFault

STOCK = {1: ("PB01", 85), 2: ("PB02", 100), 3: ("PB03", 60), 4: ("PB04", 100)}


def stocked() -> Cabinet:
    return Cabinet(STOCK)


def reserve(box: Cabinet, purpose: str = "rent", count: int = 2, rid: str = "res-1") -> Reply:
    return box.reply(box.send(Reserve(box.command_id(), rid, purpose, count, 600)))  # type: ignore[arg-type]


def test_view_after_the_first_inventory() -> None:
    box = Cabinet()
    assert box.states() == ["unknown"] * SLOTS
    box.send(box.inventory(STOCK))
    assert box.controller.view()["slots"][:5] == [
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
            result={
                "reservation_id": "res-1",
                "purpose": "rent",
                "slots": [2, 4],
                "expires_at": wall(box.mono + 600),
            },
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
    assert reserve(box, "return", 1).result == {
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
        Event("reservation_expired", {"reservation_id": "res-1", "purpose": "rent", "slots": [2]})
    ]
    assert box.state(2) == "occupied"
    reserve(box, "return", 1, rid="res-2")
    assert box.send(Cancel("c9", "res-2")) == [
        CancelTimer("reservation:2"),
        Reply("c9", "ok", result={"reservation_id": "res-2", "released": [5]}),
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
            result={
                "order_id": "order-1",
                "reservation_id": "res-1",
                "ejected": [2, 4],
                "failed": [],
            },
        ),
    ]
    box.wait(5)
    assert box.send(BankRemoved(2, forced=False)) == [
        WriteRecord(
            "bank_out",
            {
                "order_id": "order-1",
                "reservation_id": "res-1",
                "slot": 2,
                "bank_id": "PB02",
                "charge_pct": 100,
                "reserved_at": reserved_at,
                "ejected_at": ejected_at,
                "taken_at": box.now.wall,
                "seen_at": box.now.wall,
                "observed_after_restart": False,
            },
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
    failed = box.send(EjectFailed(4, "hardware_fault"))
    assert (
        Event(
            "eject_failed",
            {
                "slot": 4,
                "order_id": "order-1",
                "code": "hardware_fault",
                "reason": "the board refused the eject",
            },
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
        {
            "order_id": "order-1",
            "reservation_id": None,
            "ejected": [2],
            "failed": [
                {"slot": 4, "code": "hardware_fault", "reason": "the board refused the eject"},
                {
                    "slot": 1,
                    "code": "hardware_timeout",
                    "reason": "the latch did not open within 30 s",
                },
            ],
        },
    )


def test_all_timeouts_fail_with_hardware_timeout() -> None:
    box = stocked()
    box.send(Rent("c1", "order-1", count=1))
    reply = box.reply(box.send(EjectFailed(2, "hardware_timeout")))
    assert (reply.status, reply.code) == ("failed", "hardware_timeout")
    assert reply.detail == "ejected 0 of 1; slot 2: no response from the board"


def test_a_stuck_latch_fails_the_eject() -> None:
    box = stocked()
    box.send(Rent("c1", "order-1", count=1))
    intents = box.send(SlotFaultChanged(2, SlotFault.LOCK_STUCK))
    assert Event("slot_fault", {"slot": 2, "faults": ["lock_stuck"]}) in intents
    assert box.reply(intents).code == "hardware_fault"
    assert box.state(2) == "fault"
    assert box.send(SlotFaultChanged(2, SlotFault(0))) == [Event("slot_fault_cleared", {"slot": 2})]
    assert box.state(2) == "occupied"


def test_a_bank_not_taken_is_locked_back_in() -> None:
    box = stocked()
    box.send(Rent("c1", "order-1", count=1))
    box.send(LockChanged(2, UNLOCKED))
    box.wait(TAKE_TIMEOUT_S)
    assert box.send(TimerFired("take:2:2")) == [
        Event(
            "eject_not_taken",
            {
                "slot": 2,
                "order_id": "order-1",
                "bank_id": "PB02",
                "reason": "not taken within 30 s",
            },
        ),
        LockSlot(2),
    ]
    assert box.state(2) == "locking"
    assert box.send(LockDone(2, LOCKED)) == []
    assert box.state(2) == "occupied"
    # The bank is the cabinet's again: taking it now is a forced removal, not a rent.
    assert box.send(BankRemoved(2, forced=True))[0].type == "forced_removal"  # type: ignore[union-attr]


def test_a_late_take_while_locking_is_still_the_rents_bank_out() -> None:
    box = stocked()
    box.send(Rent("c1", "order-1", count=1))
    box.send(LockChanged(2, UNLOCKED))
    box.send(TimerFired("take:2:2"))
    box.send(LockDone(2, UNLOCKED))  # the latch shut, the bank still sticks out
    (record,) = of_type(box.send(BankRemoved(2, forced=False)), WriteRecord)
    assert (record.type, record.fields["order_id"]) == ("bank_out", "order-1")
    assert box.state(2) == "empty"


def test_a_relock_that_fails_quarantines_the_slot() -> None:
    box = stocked()
    box.send(Rent("c1", "order-1", count=1))
    box.send(LockChanged(2, UNLOCKED))
    box.send(TimerFired("take:2:2"))
    assert box.send(LockFailed(2, "hardware_fault")) == [
        Event("lock_failed", {"slot": 2, "code": "hardware_fault"})
    ]
    assert box.state(2) == "quarantined"
    # Taken after all: the rent's bank.
    assert of_type(box.send(BankRemoved(2, forced=False)), WriteRecord)[0].type == "bank_out"
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
            "bank_in",
            {
                "slot": 6,
                "bank_id": "PB77",
                "charge_pct": 12,
                "reservation_id": "res-1",
                "reserved_at": reserved_at,
                "returned_at": box.now.wall,
                "seen_at": box.now.wall,
                "observed_after_restart": False,
            },
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
    assert record.fields["bank_id"] is None
    assert Event("unknown_bank", {"slot": 5, "charge_pct": 40}) in intents
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
        Event(
            "forced_removal",
            {"slot": 2, "bank_id": "PB02", "charge_pct": 100, "forced": True},
        ),
        Event(
            "reservation_slot_lost", {"reservation_id": "res-1", "slot": 2, "state": "quarantined"}
        ),
        CancelTimer("reservation:1"),
    ]
    assert of_type(intents, WriteRecord) == []
    assert box.state(2) == "quarantined"
    assert box.reply(box.send(SetSlot("c1", 2, True))).result == {
        "slot": 2,
        "enabled": True,
        "state": "empty",
    }


def test_set_slot() -> None:
    box = stocked()
    reserve(box, count=1)
    intents = box.send(SetSlot("c1", 2, False))
    assert box.reply(intents).result == {"slot": 2, "enabled": False, "state": "disabled"}
    assert (
        Event("reservation_slot_lost", {"reservation_id": "res-1", "slot": 2, "state": "disabled"})
        in intents
    )
    assert box.controller.view()["slots"][1]["enabled"] is False
    box.send(Rent("c2", "order-1", count=1))  # slot 4
    busy = box.reply(box.send(SetSlot("c3", 4, False)))
    assert (busy.code, busy.detail) == ("busy", "slot 4 is ejecting")
    assert box.reply(box.send(SetSlot("c4", 99, False))).code == "not_allowed"
    box.send(SetSlot("c5", 2, True))
    assert box.state(2) == "occupied"


def test_a_latch_opening_by_itself_quarantines_and_locks() -> None:
    box = stocked()
    assert box.send(LockChanged(3, UNLOCKED)) == [
        Event("slot_unlocked", {"slot": 3, "bank_id": "PB03"}),
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
    assert intents == [Event("slot_fault", {"slot": 1, "faults": ["overtemp", "charger_fault"]})]
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
    records = {record.type: record.fields for record in of_type(intents, WriteRecord)}
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
        Event("reservation_expired", {"reservation_id": "res-1", "purpose": "rent", "slots": [2]})
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
    snapshot = box.controller.snapshot()
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

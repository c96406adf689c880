"""The cabinet and the clock: `clock_synced` of bank_out / bank_in covers `reserved_at` and
`ejected_at`; reservation TTLs and take timeouts run in real time, off time counted later in the
boot included, and the `expires_at` already sent stays as it was (edge/cabinet/reservations.py)."""

from __future__ import annotations

import json

from cabinet_driver import TAKE_TIMEOUT_S, UNLOCKED, Cabinet, of_type, reading
from test_cabinet_controller import OLD_SNAPSHOT, STOCK, reserve, stocked

from edge.cabinet.controller import CabinetController
from edge.cabinet.events import ReservationExpired
from edge.cabinet.inputs import (
    BankInserted,
    BankRemoved,
    InventoryRead,
    LockChanged,
    OffTimeCounted,
    Rent,
    Reserve,
)
from edge.cabinet.records import BankIn, BankOut
from edge.cabinet.results import ReserveResult
from edge.clock import OffTime
from edge.intents import CancelTimer, Intent, RaiseEvent, StartTimer, WriteRecord


def written(intents: list[Intent], kind: type[BankOut] | type[BankIn]) -> WriteRecord:
    (record,) = [w for w in of_type(intents, WriteRecord) if isinstance(w.record, kind)]
    return record


def rent_and_take(box: Cabinet, *, synced_at_eject: bool = True) -> WriteRecord:
    """Rents reservation res-1 (one bank, slot 2), opens the latch and takes the bank."""
    box.send(Rent(box.command_id(), "order-1", reservation_id="res-1"))
    box.synced = synced_at_eject
    box.send(LockChanged(2, UNLOCKED))
    box.synced = True
    box.wait(3)
    return written(box.send(BankRemoved(2, forced=False)), BankOut)


def test_bank_out_all_on_a_synced_clock_is_clock_synced() -> None:
    box = stocked()
    reserve(box, count=1)
    assert rent_and_take(box).synced


def test_bank_out_reserved_on_an_unsynced_clock_is_not_clock_synced() -> None:
    box = stocked()
    box.synced = False
    reserve(box, count=1)
    box.synced = True
    assert not rent_and_take(box).synced


def test_bank_out_ejected_on_an_unsynced_clock_is_not_clock_synced() -> None:
    box = stocked()
    reserve(box, count=1)
    assert not rent_and_take(box, synced_at_eject=False).synced


def test_bank_out_of_a_rent_by_count_rests_on_its_ejected_at() -> None:
    box = stocked()
    box.synced = False
    box.send(Rent(box.command_id(), "order-1", count=1))  # slot 2
    box.send(LockChanged(2, UNLOCKED))
    box.synced = True
    assert not written(box.send(BankRemoved(2, forced=False)), BankOut).synced


def test_bank_in_returned_into_a_reservation_made_unsynced_is_not_clock_synced() -> None:
    for synced_at_reserve in (True, False):
        box = stocked()
        box.synced = synced_at_reserve
        reserve(box, purpose="return", count=1)  # slot 5
        box.synced = True
        inserted = box.send(BankInserted(5, "PB09", 90))
        assert written(inserted, BankIn).synced is synced_at_reserve


def test_a_reservation_from_an_old_snapshot_is_not_known_synced() -> None:
    controller = CabinetController.restore(json.loads(OLD_SNAPSHOT), 6, 80, TAKE_TIMEOUT_S)
    box = Cabinet()
    box.controller = controller
    box.controller.resume(box.now)
    box.send(InventoryRead(tuple(reading(n) for n in range(1, 7))))
    assert not written(box.send(BankInserted(5, "PB09", 90)), BankIn).synced


def restart_uncounted(box: Cabinet) -> float:
    """The box went off a second later and came back unsynced: its monotonic clock does not
    show the off time. Returns the monotonic instant it came back (where that will be counted)."""
    box.wait(1)
    box.restart()
    return box.mono


def test_off_time_counted_later_brings_a_reservation_deadline_forward() -> None:
    box = stocked()
    sent = reserve(box, count=1)  # ttl 600 at mono 1000
    assert isinstance(sent.result, ReserveResult)
    box.wait(100)
    back = restart_uncounted(box)
    box.wait(50)
    box.off_times = (OffTime(back, 300.0),)  # the clock synced: 300 s off counted
    intents = box.send(OffTimeCounted(300.0))
    (started,) = of_type(intents, StartTimer)
    assert started.seconds == 600 - (100 + 1 + 50 + 300)
    assert of_type(intents, CancelTimer)
    (held,) = box.controller.describe().reservations
    assert held.expires_at == sent.result.expires_at  # what the cloud was told stands


def test_a_reservation_whose_ttl_went_by_while_off_expires_when_the_off_time_is_counted() -> None:
    box = stocked()
    reserve(box, count=1)
    back = restart_uncounted(box)
    box.wait(10)
    box.off_times = (OffTime(back, 3600.0),)
    intents = box.send(OffTimeCounted(3600.0))
    assert (
        intents.count(
            RaiseEvent(ReservationExpired(reservation_id="res-1", purpose="rent", slots=[2]))
        )
        == 1
    )
    assert not of_type(intents, StartTimer)
    assert box.controller.describe().reservations == []


def test_a_reservation_made_after_the_box_came_back_keeps_its_ttl() -> None:
    box = stocked()
    back = restart_uncounted(box)
    box.send(box.inventory(STOCK))
    box.wait(20)
    reserve(box, count=1)
    box.wait(30)
    box.off_times = (OffTime(back, 300.0),)
    (started,) = of_type(box.send(OffTimeCounted(300.0)), StartTimer)
    assert started.seconds == 600 - 30


def test_off_time_counted_at_boot_shortens_a_reservation_on_resume() -> None:
    box = stocked()
    reserve(box, count=1)
    box.wait(100)
    box.off_times = (OffTime(box.mono, 200.0),)
    box.wait(1)
    assert box.restart() == [StartTimer("reservation:2", 600 - 101 - 200)]


def test_off_time_counted_later_shortens_a_take_timeout() -> None:
    for off_s, left_s in ((120.0, 0.0), (20.0, TAKE_TIMEOUT_S - (1 + 1 + 20))):
        box = Cabinet(STOCK)
        box.send(Reserve(box.command_id(), "res-1", "rent", 1, 600))
        box.send(Rent(box.command_id(), "order-1", reservation_id="res-1"))
        box.send(LockChanged(2, UNLOCKED))  # the person has TAKE_TIMEOUT_S from now
        back = restart_uncounted(box)
        box.wait(1)
        box.off_times = (OffTime(back, off_s),)
        (started,) = of_type(box.send(OffTimeCounted(off_s)), StartTimer)
        assert started.seconds == left_s

"""Every cabinet command path end to end, on one cabinet: signed commands over mosquitto, the
agent as a process, `edge-sim cabinet` (3 boards x 16 slots) over a pty. Each test reads the
cabinet as the telemetry shows it and leaves it serving (no reservation held, no slot
disabled), so the tests do not depend on each other's order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cabinet_rig import (
    DEVICE,
    MIN_CHARGE,
    TAKE_TIMEOUT_S,
    CabinetRig,
    assert_ejects_as_asked,
    assert_one_reply_each,
    cabinet_rig,
    empty,
    rentable,
)
from vehicle_rig import seconds_between

from testbed.rig import assert_agent_serving, assert_records_sound

# A latch that takes 100 ms to open keeps a rent under way long enough to be asked again.
SIM_ARGS = ("--charge-step-s", "0", "--latch-ms", "100")


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CabinetRig]:
    with cabinet_rig(tmp_path_factory.mktemp("cabinet"), sim_args=SIM_ARGS) as cabinet:
        yield cabinet
        assert_ejects_as_asked(cabinet)
        assert_records_sound(cabinet.records(), DEVICE)
        assert_one_reply_each(cabinet)
        assert_agent_serving(cabinet)


def take_all(rig: CabinetRig, slots: list[int]) -> list[dict[str, Any]]:
    """A person takes each ejected bank: their bank_out records."""
    for slot in slots:
        rig.take(slot)
    return [rig.wait_record("bank_out", slot=slot) for slot in slots]


def test_rent_a_reservation_of_the_fullest_banks(rig: CabinetRig) -> None:
    before = rig.slots()
    best = rentable(before)[:2]
    reserved = rig.ok("reserve", reservation_id="r-rent", purpose="rent", count=2, ttl_s=60)
    result = reserved["result"]
    assert result["slots"] == sorted(best)
    assert (result["reservation_id"], result["purpose"]) == ("r-rent", "rent")
    shown = rig.slots(lambda s: all(s[n]["state"] == "reserved_rent" for n in best))
    assert [shown[n]["bank_id"] for n in best] == [before[n]["bank_id"] for n in best]

    rented = rig.ok("rent", order_id="order-1", reservation_id="r-rent")
    assert rented["result"] == {
        "order_id": "order-1",
        "reservation_id": "r-rent",
        "ejected": sorted(best),
        "failed": [],
    }
    pushed = {line["slot"]: line["bank_id"] for line in rig.sim_lines("eject")}
    assert {n: pushed[n] for n in best} == {n: before[n]["bank_id"] for n in best}

    for out in take_all(rig, sorted(best)):
        slot = out["slot"]
        assert (out["order_id"], out["reservation_id"]) == ("order-1", "r-rent")
        assert (out["bank_id"], out["charge_pct"]) == (
            before[slot]["bank_id"],
            before[slot]["charge_pct"],
        )
        assert seconds_between(out["reserved_at"], result["expires_at"]) == 60
        assert out["reserved_at"] <= out["ejected_at"] <= out["taken_at"]
        assert out["observed_after_restart"] is False
    rig.slots(lambda s: all(s[n]["state"] == "empty" for n in best))


def test_rent_by_count_ejects_the_best_free_banks(rig: CabinetRig) -> None:
    best = rentable(rig.slots())[:3]
    rented = rig.ok("rent", order_id="order-2", count=3)
    assert sorted(rented["result"]["ejected"]) == sorted(best)
    assert (rented["result"]["reservation_id"], rented["result"]["failed"]) == (None, [])
    outs = take_all(rig, best)
    assert [(o["order_id"], o["reservation_id"], o["reserved_at"]) for o in outs] == [
        ("order-2", None, None)
    ] * 3
    assert all(o["ejected_at"] <= o["taken_at"] for o in outs)


def test_returns_into_a_reserved_slot_and_into_a_free_one(rig: CabinetRig) -> None:
    free = empty(rig.slots())
    reserved = rig.ok("reserve", reservation_id="r-return", purpose="return", count=1, ttl_s=60)
    [slot] = reserved["result"]["slots"]
    assert slot == free[0]
    rig.slots(lambda s: s[slot]["state"] == "reserved_return")

    rig.insert(slot, "RT000001", 35)
    back = rig.wait_record("bank_in", slot=slot)
    assert (back["bank_id"], back["charge_pct"], back["reservation_id"]) == (
        "RT000001",
        35,
        "r-return",
    )
    assert back["reserved_at"] <= back["returned_at"]
    elsewhere = next(n for n in free if n != slot)
    rig.insert(elsewhere, "RT000002", 60)
    other = rig.wait_record("bank_in", slot=elsewhere)
    assert (other["bank_id"], other["reservation_id"], other["observed_after_restart"]) == (
        "RT000002",
        None,
        False,
    )
    shown = rig.slots(lambda s: s[slot]["state"] == s[elsewhere]["state"] == "occupied")
    assert shown[slot]["bank_id"] == "RT000001"
    # The reservation was consumed by the return: nothing is left to cancel.
    rig.refused("cancel", "not_allowed", reservation_id="r-return")
    sim = rig.sim_slots()
    assert sim[slot]["lock"] == sim[elsewhere]["lock"] == "locked"


def test_an_unidentifiable_bank_is_locked_in_with_an_event(rig: CabinetRig) -> None:
    slot = empty(rig.slots())[0]
    since = rig.mark()
    rig.insert(slot, None, 50)
    back = rig.wait_record("bank_in", slot=slot, bank_id=None)
    assert (back["charge_pct"], back["reservation_id"]) == (50, None)
    assert rig.wait_event("unknown_bank", since, slot=slot)["charge_pct"] == 50
    shown = rig.slots(lambda s: s[slot]["state"] == "fault")  # ID_UNREADABLE set
    assert (shown[slot]["bank_id"], shown[slot]["charge_pct"]) == (None, 50)
    assert rig.sim_slots()[slot]["lock"] == "locked"
    assert slot not in rentable(shown, 0)


def test_a_bank_not_taken_in_time_is_locked_back_in(rig: CabinetRig) -> None:
    before = rig.slots()
    since = rig.mark()
    [slot] = rig.ok("rent", order_id="order-3", count=1)["result"]["ejected"]
    event = rig.wait_event("eject_not_taken", since, timeout=TAKE_TIMEOUT_S + 5, slot=slot)
    assert (event["order_id"], event["bank_id"]) == ("order-3", before[slot]["bank_id"])
    rig.sim.wait_event("locked", slot=slot, cause="driven")
    shown = rig.slots(lambda s: s[slot]["state"] == "occupied")
    assert shown[slot]["bank_id"] == before[slot]["bank_id"]
    assert not [r for r in rig.records_of("bank_out") if r["order_id"] == "order-3"]


def test_a_forced_removal_quarantines_the_slot(rig: CabinetRig) -> None:
    before = rig.slots()
    slot = rentable(before)[0]
    since = rig.mark()
    rig.sim.send(op="remove", slot=slot)
    event = rig.wait_event("forced_removal", since, slot=slot)
    assert (event["bank_id"], event["forced"]) == (before[slot]["bank_id"], True)
    rig.slots(lambda s: s[slot]["state"] == "quarantined")
    assert not [r for r in rig.records() if r["type"] == "bank_out" and r["slot"] == slot]
    # Only an operator brings it back.
    enabled = rig.ok("set_slot", slot=slot, enabled=True)["result"]
    assert enabled == {"slot": slot, "enabled": True, "state": "empty"}


def test_cancel_releases_a_reservation(rig: CabinetRig) -> None:
    reserved = rig.ok("reserve", reservation_id="r-cancel", purpose="rent", count=2, ttl_s=60)
    held = reserved["result"]["slots"]
    rig.slots(lambda s: all(s[n]["state"] == "reserved_rent" for n in held))
    cancelled = rig.ok("cancel", reservation_id="r-cancel")["result"]
    assert cancelled == {"reservation_id": "r-cancel", "released": held}
    rig.slots(lambda s: all(s[n]["state"] == "occupied" for n in held))
    rig.refused("rent", "not_allowed", order_id="order-x", reservation_id="r-cancel")


def test_a_reservation_runs_out_at_its_ttl(rig: CabinetRig) -> None:
    since = rig.mark()
    reserved = rig.ok("reserve", reservation_id="r-ttl", purpose="return", count=2, ttl_s=1)
    held = reserved["result"]["slots"]
    expired = rig.wait_event("reservation_expired", since, timeout=5, reservation_id="r-ttl")
    assert (expired["purpose"], expired["slots"]) == ("return", held)
    rig.slots(lambda s: all(s[n]["state"] == "empty" for n in held))
    rig.refused("cancel", "not_allowed", reservation_id="r-ttl")


def test_set_slot_takes_a_slot_out_of_service_and_back(rig: CabinetRig) -> None:
    best, second = rentable(rig.slots())[:2]
    disabled = rig.ok("set_slot", slot=best, enabled=False)["result"]
    assert disabled == {"slot": best, "enabled": False, "state": "disabled"}
    shown = rig.slots(lambda s: s[best]["enabled"] is False)
    assert shown[best]["state"] == "disabled"
    [ejected] = rig.ok("rent", order_id="order-4", count=1)["result"]["ejected"]
    assert ejected == second
    take_all(rig, [second])
    assert rig.ok("set_slot", slot=best, enabled=True)["result"]["state"] == "occupied"
    rig.slots(lambda s: s[best]["enabled"] is True)
    for slot in (0, 49):
        refused = rig.refused("set_slot", "not_allowed", slot=slot, enabled=False)
        assert "no slot" in refused["detail"]


def test_what_the_cabinet_refuses(rig: CabinetRig) -> None:
    slots = rig.slots()
    banks, free = len(rentable(slots)), len(empty(slots))
    detail = rig.refused(
        "reserve", "not_allowed", reservation_id="r-big", purpose="rent", count=banks + 1, ttl_s=60
    )["detail"]
    assert f"{banks} available" in detail
    assert f"at least {MIN_CHARGE} %" in detail
    rig.refused(
        "reserve", "not_allowed", reservation_id="r-big", purpose="return", count=free + 1, ttl_s=60
    )
    rig.refused("rent", "not_allowed", order_id="order-x", count=banks + 1)
    rig.refused("rent", "not_allowed", order_id="order-x", reservation_id="r-none")
    rig.refused("cancel", "not_allowed", reservation_id="r-none")
    rig.ok("reserve", reservation_id="r-twice", purpose="return", count=1, ttl_s=60)
    rig.refused(
        "reserve", "not_allowed", reservation_id="r-twice", purpose="rent", count=1, ttl_s=60
    )
    rig.refused("rent", "not_allowed", order_id="order-x", reservation_id="r-twice")
    rig.ok("cancel", reservation_id="r-twice")
    bad = rig.command("rent", order_id="order-x", reservation_id="r-1", count=1)
    assert (bad["status"], bad["code"]) == ("rejected", "bad_schema")

    # busy: the same reservation rented twice while its banks are being ejected, and a slot
    # taken out of service while it ejects.
    [slot] = rig.ok("reserve", reservation_id="r-busy", purpose="rent", count=1, ttl_s=60)[
        "result"
    ]["slots"]
    first = rig.send_command("rent", order_id="order-5", reservation_id="r-busy")
    again = rig.command("rent", order_id="order-6", reservation_id="r-busy")
    assert (again["status"], again["code"]) == ("rejected", "busy"), again
    assert "order-5" in again["detail"]
    assert rig.reply_to(first)["result"]["ejected"] == [slot]
    refused = rig.refused("set_slot", "busy", slot=slot, enabled=False)
    assert "ejecting" in refused["detail"]
    take_all(rig, [slot])

"""The cabinet's boards misbehaving, end to end: a latch that sticks, a board that goes silent,
boards that answer twice or too late. The box reports exactly what happened and never counts an
answer that does not belong to the request it waits for."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from cabinet_rig import (
    DEVICE,
    SLOTS_PER_BOARD,
    CabinetRig,
    assert_ejects_as_asked,
    assert_one_reply_each,
    cabinet_rig,
    rentable,
)

from testbed.rig import assert_agent_serving, assert_records_sound


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[CabinetRig]:
    with cabinet_rig(tmp_path) as cabinet:
        yield cabinet
        assert_ejects_as_asked(cabinet)
        assert_records_sound(cabinet.records(), DEVICE)
        assert_one_reply_each(cabinet)
        assert_agent_serving(cabinet)


def board_of(slot: int) -> int:
    return (slot - 1) // SLOTS_PER_BOARD + 1


def test_a_stuck_latch_fails_its_eject_and_the_rest_are_reported_exactly(rig: CabinetRig) -> None:
    best = rentable(rig.slots())[:3]
    stuck = best[1]
    rig.fault("lock_stuck", True, slot=stuck)
    reply = rig.command("rent", order_id="order-stuck", count=3)
    assert (reply["status"], reply["code"]) == ("failed", "hardware_fault"), reply
    ejected = [slot for slot in best if slot != stuck]
    assert sorted(reply["result"]["ejected"]) == sorted(ejected)
    [failed] = reply["result"]["failed"]
    assert (failed["slot"], failed["code"]) == (stuck, "hardware_fault")
    assert "stuck" in failed["reason"]
    assert f"ejected 2 of 3; slot {stuck}:" in reply["detail"]
    shown = rig.slots(lambda s: s[stuck]["state"] == "fault")
    assert shown[stuck]["bank_id"] is not None  # the bank never left
    assert rig.sim.state()["counters"]["ejects"].get(str(stuck)) is None
    for slot in ejected:
        rig.take(slot)
    outs = [rig.wait_record("bank_out", slot=slot) for slot in ejected]
    assert {out["order_id"] for out in outs} == {"order-stuck"}
    # A stuck slot is not rented again while its fault stands.
    again = rig.ok("rent", order_id="order-after", count=1)["result"]["ejected"]
    assert again != [stuck]


def test_a_silent_board_fails_its_ejects_and_shows_as_fault(rig: CabinetRig) -> None:
    slots = rig.slots()
    [slot] = rig.ok("reserve", reservation_id="r-silent", purpose="rent", count=1, ttl_s=60)[
        "result"
    ]["slots"]
    board = board_of(slot)
    own = range((board - 1) * SLOTS_PER_BOARD + 1, board * SLOTS_PER_BOARD + 1)
    since = rig.mark()
    rig.fault("silent", True, board=board)
    reply = rig.command("rent", order_id="order-silent", reservation_id="r-silent")
    assert (reply["status"], reply["code"]) == ("failed", "hardware_timeout"), reply
    assert reply["result"]["ejected"] == []
    assert reply["result"]["failed"][0]["slot"] == slot
    lost = rig.wait_event("board_unreachable", since, timeout=10, board=board)
    assert lost["slots"] == [own[0], own[-1]]
    shown = rig.telemetry(
        lambda t: {"address": board, "state": "unreachable"} in t["link"]["boards"]
    )
    resting = [n for n in own if slots[n]["state"] in ("occupied", "empty")]
    assert {shown["slots"][n - 1]["state"] for n in resting} == {"fault"}
    # Its banks are not offered while it is silent.
    held = rig.ok("reserve", reservation_id="r-other", purpose="rent", count=2, ttl_s=60)
    assert not set(held["result"]["slots"]) & set(own)
    rig.ok("cancel", reservation_id="r-other")
    assert rig.sim.state()["counters"]["ejects"].get(str(slot)) is None

    rig.fault("silent", False, board=board)
    rig.wait_event("board_reachable", since, timeout=10, board=board)
    back = rig.slots(lambda s: all(s[n]["state"] == slots[n]["state"] for n in resting))
    assert [back[n]["bank_id"] for n in own] == [slots[n]["bank_id"] for n in own]


def test_duplicate_answers_confirm_nothing_twice(rig: CabinetRig) -> None:
    rig.fault("duplicate", True)
    best = rentable(rig.slots())[:4]
    for order, pair in (("order-d1", best[:2]), ("order-d2", best[2:])):
        reply = rig.ok("rent", order_id=order, count=2)
        assert sorted(reply["result"]["ejected"]) == sorted(pair)
        for slot in pair:
            rig.take(slot)
            assert rig.wait_record("bank_out", slot=slot)["order_id"] == order
    ejects = rig.sim.state()["counters"]["ejects"]
    assert {int(slot): count for slot, count in ejects.items()} == dict.fromkeys(best, 1)
    link = rig.telemetry(lambda t: t["link"]["late_responses"] > 0)["link"]
    assert link["timeouts"] == 0


def test_late_answers_confirm_only_their_own_request(rig: CabinetRig) -> None:
    [first, second] = rentable(rig.slots())[:2]
    # 150 ms late: after the box's 100 ms timeout, while it waits for the same request sent
    # again; the board answers that from memory and ejects nothing twice.
    rig.fault("late", True, delay_ms=150)
    reply = rig.ok("rent", order_id="order-late", count=1)
    assert reply["result"]["ejected"] == [first]
    rig.take(first)
    rig.wait_record("bank_out", slot=first)
    assert [line["slot"] for line in rig.sim_lines("eject")] == [first]
    assert rig.sim_lines("retransmission")

    # 400 ms late: every attempt times out; the answers that come after the box gave up
    # confirm nothing, and the board's status decides once it answers in time again.
    rig.fault("late", True, delay_ms=400)
    since = rig.mark()
    reply = rig.command("rent", order_id="order-later", count=1)
    assert (reply["status"], reply["code"]) == ("failed", "hardware_timeout"), reply
    assert reply["result"]["ejected"] == []
    rig.fault("late", False)
    pushed = Counter(line["slot"] for line in rig.sim_lines("eject"))[second]
    assert pushed <= 1  # the eject was sent (once) unless the GET_INFO before it timed out
    if pushed:
        # It did open: once the board answers in time again, the box finds the latch open with
        # no eject it knows of, and locks it again.
        rig.wait_event("slot_unlocked", since, timeout=10, slot=second)
        rig.sim.wait_event("locked", slot=second, cause="driven")
    assert not [r for r in rig.records_of("bank_out") if r["order_id"] == "order-later"]
    link = rig.telemetry(lambda t: t["link"]["late_responses"] > 0)["link"]
    assert link["retries"] > 0


@pytest.mark.parametrize("configured", [10, 6])
def test_boards_with_another_slot_count_than_configured(tmp_path: Path, configured: int) -> None:
    """Boards of 8 slots: configured for 10, each board's last 2 cabinet slots do not exist and
    show as fault; configured for 6, each board's slots 7 and 8 are not used."""
    sim_args = ("--boards", "2", "--slots", "8", "--charge-step-s", "0")
    cabinet = {"boards": [1, 2], "slots_per_board": configured}
    with cabinet_rig(tmp_path, sim_args=sim_args, cabinet=cabinet) as rig:
        for board in (1, 2):
            event = rig.wait_event("board_slot_count_mismatch", board=board)
            assert (event["board_slots"], event["slots_per_board"]) == (8, configured)
        assert rig.agent_lines("cabinet.slot_count_mismatch")
        shown = rig.slots()
        assert sorted(shown) == list(range(1, 2 * configured + 1))
        sim = {(s["board"], s["board_slot"]): s for s in rig.sim.state()["slots"]}
        for number, slot in shown.items():
            board, board_slot = divmod(number - 1, configured)
            if board_slot + 1 > 8:
                assert (slot["state"], slot["bank_id"]) == ("fault", None), slot
            else:
                assert slot["bank_id"] == sim[(board + 1, board_slot + 1)]["bank_id"]
        [slot] = rig.ok("rent", order_id="order-count", count=1)["result"]["ejected"]
        board, board_slot = divmod(slot - 1, configured)
        assert rig.sim.wait_event("eject", board=board + 1, board_slot=board_slot + 1)
        assert_agent_serving(rig)


def test_the_agent_serves_with_a_board_silent_from_the_start(tmp_path: Path) -> None:
    with cabinet_rig(tmp_path, start=False) as rig:
        rig.fault("silent", True, board=2)
        since = rig.mark()
        rig.start_agent()  # ready all the same
        assert rig.wait_event("board_unreachable", since, board=2)["slots"] == [17, 32]
        shown = rig.telemetry(lambda t: t["link"]["boards"][1]["state"] == "unreachable")
        states = [slot["state"] for slot in shown["slots"]]
        assert set(states[16:32]) == {"unknown"}  # never read since the agent started
        assert "unknown" not in states[:16] + states[32:]
        [slot] = rig.ok("rent", order_id="order-without-2", count=1)["result"]["ejected"]
        assert not 17 <= slot <= 32

        rig.fault("silent", False, board=2)
        rig.wait_event("board_reachable", since, timeout=10, board=2)
        sim = rig.sim_slots()
        shown_now = rig.slots(lambda s: s[17]["state"] != "unknown")
        assert [shown_now[n]["bank_id"] for n in range(17, 33)] == [
            sim[n]["bank_id"] for n in range(17, 33)
        ]
        assert not rig.records_of("bank_in")  # what it found is the stock, not returns
        assert_agent_serving(rig)


def test_a_board_reset_is_followed_by_a_fresh_reading(rig: CabinetRig) -> None:
    """A board that restarts forgets the events it had not handed over; the box reads it again
    and records what it finds, once."""
    first, second = [n for n, s in rig.sim_slots().items() if n <= 16 and not s["bank_present"]][:2]
    # An event after the board's power-on reset: a second reset then differs from the first
    # by its event seq (PROTOCOL.md 8.3).
    rig.insert(first, "RS000001", 70)
    rig.wait_record("bank_in", slot=first)
    rig.sim.send(op="insert", slot=second, bank_id="RS000002", charge_pct=60)
    rig.sim.send(op="reset", board=1, reason="watchdog")  # the insert's event may be gone
    rig.sim.wait_event("reset", address=1)
    back = rig.wait_record("bank_in", slot=second)
    assert (back["bank_id"], back["charge_pct"]) == ("RS000002", 60)
    lost = rig.agent.wait_event("cabinet.events_lost", board=1)
    assert lost["reason"] == "board_reset"
    rig.slots(lambda s: s[first]["state"] == s[second]["state"] == "occupied")
    assert [r["slot"] for r in rig.records_of("bank_in")] == [first, second]

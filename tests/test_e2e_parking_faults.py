"""Ground-lock faults end to end: a jammed arm, a board gone silent, a noisy line. A move that
fails is replied `failed` with the code the controller gives it, the lock shows fault with an
event, and the box shows only what the board reports; a noisy line costs retries, never a
second move or a second record."""

from __future__ import annotations

from pathlib import Path

from parking_rig import (
    assert_never_raised_over_a_car,
    assert_sessions_sound,
    parking_rig,
)

from edge.serial.events import UNREACHABLE_POLL_S
from testbed.rig import assert_agent_serving

ORDER = "order-park-fault"
NOISE = {"ber": 1e-3, "drop": 1e-3}
NOISY_CYCLES = 3
# A GET_EVENTS unanswered three times over (about 1 % of them at this noise) rests the poller
# for UNREACHABLE_POLL_S: the arm's report may come that late, and a move must outlast it.
NOISY_MOVE_TIMEOUT_S = UNREACHABLE_POLL_S + 3


def test_a_jammed_arm_fails_the_lower(tmp_path: Path) -> None:
    with parking_rig(tmp_path) as rig:
        rig.lock_shows("raised")
        rig.fault("lock_stuck", True)
        since = rig.mark()

        reply = rig.command("lower", order_id=ORDER)
        assert (reply["status"], reply["code"], reply["detail"]) == (
            "failed",
            "hardware_fault",
            "the board reports motor_stall",
        )
        fault = rig.wait_event("ground_lock_fault", since)
        assert fault["reason"] == "the board reports motor_stall"
        assert fault["faults"] == ["motor_stall"]
        # The order is gone with the failed lower: no record, the space holds no order.
        shown = rig.lock_shows("fault")
        assert shown["order_id"] is None
        assert rig.records() == []
        # The board drove the arm back up; it set off once and never reached lowered.
        rig.wait_sim("position", position="raised")
        state = rig.sim.state()
        assert (state["position"], state["moves"], state["stuck"]) == ("raised", 1, True)
        assert state["boards"][0]["faults"] == ["motor_stall"]
        assert rig.sim_lines("position", 0) == [
            {"event": "position", "position": "moving"},
            {"event": "position", "position": "raised"},
        ]
        assert rig.lock_shows("fault")["order_id"] is None  # and it stays so
        assert_agent_serving(rig)


def test_a_jammed_arm_fails_the_raise_and_the_parking_goes_on(tmp_path: Path) -> None:
    with parking_rig(tmp_path) as rig:
        rig.lock_shows("raised")
        started = rig.park(ORDER)
        rig.fault("lock_stuck", True)
        since, sim_since = rig.mark(), len(rig.sim.raw)

        stalled = rig.command("raise", order_id=ORDER)
        assert (stalled["status"], stalled["code"]) == ("failed", "hardware_fault"), stalled
        assert stalled["detail"] == "the board reports motor_stall"
        assert rig.wait_event("ground_lock_fault", since)["faults"] == ["motor_stall"]
        assert rig.wait_event("ground_lock_faults", since)["faults"] == ["motor_stall"]
        rig.wait_sim("position", sim_since, position="lowered")
        assert rig.lock_shows("fault")["order_id"] == ORDER
        assert rig.sim.state()["position"] == "lowered"

        # Still jammed: the board refuses the next raise outright.
        refused = rig.command("raise", order_id=ORDER)
        assert (refused["status"], refused["code"], refused["detail"]) == (
            "failed",
            "hardware_fault",
            "the board refused",
        )
        assert [e["code"] for e in rig.sim_lines("nak")] == ["HARDWARE_FAULT"]
        assert rig.records() == [started]

        # Repaired: the raise goes through, ends the parking and clears the fault.
        rig.fault("lock_stuck", False)
        ended = rig.ok("raise", order_id=ORDER)["result"]
        assert ended["started_at"] == started["ts"]
        rig.wait_event("ground_lock_fault_cleared", since)
        assert rig.lock_shows("raised")["order_id"] is None
        assert rig.moves() == 3  # the lower, the stalled raise, the good raise
        assert len(assert_sessions_sound(rig.records())) == 1
        assert_agent_serving(rig)


def test_a_silent_board_times_the_lower_out_and_is_used_again_once_back(tmp_path: Path) -> None:
    with parking_rig(tmp_path) as rig:
        rig.lock_shows("raised")
        rig.fault("silent", True)
        since = rig.mark()

        reply = rig.command("lower", order_id=ORDER)
        assert (reply["status"], reply["code"], reply["detail"]) == (
            "failed",
            "hardware_timeout",
            "no response from the board",
        )
        assert rig.wait_event("ground_lock_fault", since)["reason"] == "no response from the board"
        assert rig.lock_shows("fault")["order_id"] is None
        assert rig.records() == []
        assert rig.agent is not None
        assert rig.agent.proc.poll() is None

        # Back on the line: the box reads the arm again and the space is used as before.
        rig.fault("silent", False)
        rig.lock_shows("raised")
        rig.wait_event("ground_lock_fault_cleared", since)
        rig.park(ORDER)
        rig.ok("raise", order_id=ORDER)
        assert rig.moves() == 2  # the lost LOWER was never carried out
        assert len(assert_sessions_sound(rig.records())) == 1
        assert_agent_serving(rig)


def test_a_noisy_line_costs_retries_not_moves_or_records(tmp_path: Path) -> None:
    with parking_rig(tmp_path, parking={"move_timeout_s": NOISY_MOVE_TIMEOUT_S}) as rig:
        rig.lock_shows("raised")
        rig.fault("noise", True, **NOISE)
        orders = [f"{ORDER}-{n}" for n in range(NOISY_CYCLES)]
        for order in orders:
            rig.park(order)
            rig.ok("raise", order_id=order)
        state = rig.sim.state()
        rig.fault("noise", False)

        # The line was really noisy, and the box had to retry through it.
        noise = state["serial"]
        assert noise["faults"]["ber"] == NOISE["ber"]
        hurt = sum(
            noise[way][what]
            for way in ("to_host", "from_host")
            for what in ("bytes_corrupted", "bytes_dropped")
        )
        assert hurt > 0, noise
        # One motor start per command, whatever was retransmitted; one record per move.
        assert state["moves"] == 2 * NOISY_CYCLES
        assert [e["event"] for e in rig.sim_lines() if e["event"] in ("raise", "lower")] == [
            "lower",
            "raise",
        ] * NOISY_CYCLES
        records = rig.records()
        assert [s[0] for s in assert_sessions_sound(records)] == orders
        assert rig.lock_shows("raised")["order_id"] is None
        assert_never_raised_over_a_car(rig.sim_lines())
        assert_agent_serving(rig)


def test_a_lower_whose_answers_were_lost_leaves_the_space_usable(tmp_path: Path) -> None:
    with parking_rig(tmp_path) as rig:
        rig.lock_shows("raised")
        rig.fault("late", True, delay_ms=400)
        lost = rig.command("lower", order_id="o1")
        assert (lost["status"], lost["code"]) == ("failed", "hardware_timeout")
        rig.fault("late", False)
        # The board did lower it: the box shows what the board reports, with no order.
        rig.lock_shows("lowered", order_id=None)
        assert rig.records() == []
        # The next order parks at once on the lowered arm, and ends normally.
        started = rig.ok("lower", order_id="o2")
        assert started["result"] == {"order_id": "o2", "lock": "lowered"}
        ended = rig.ok("raise", order_id="o2")
        assert [r["type"] for r in rig.records()] == ["parking_started", "parking_ended"]
        assert ended["result"]["order_id"] == "o2"

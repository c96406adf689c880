"""The agent SIGKILLed while the arm moves, and started again on the same store: the arm is not
moved again by itself, the interrupted command is replied as the board's first report finds the
arm (at the target: ok with its record), and the parking ends with exactly one record each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from parking_rig import (
    ParkingRig,
    assert_never_raised_over_a_car,
    assert_sessions_sound,
    parking_rig,
    seconds_between,
)

from testbed.rig import assert_agent_serving

ORDER = "order-park-kill"
SLOW_MOVE_MS = 2500  # still travelling when the new agent reads the board
SLOW_MOVE_TIMEOUT_S = 6.0


@dataclass(frozen=True)
class KillPoint:
    move: str  # the command killed in flight: lower or raise
    slow_arm: bool

    def __str__(self) -> str:
        return f"{self.move}-{'slow' if self.slow_arm else 'fast'}-arm"


KILL_POINTS = [KillPoint("lower", False), KillPoint("lower", True), KillPoint("raise", True)]


def killed_mid_move(rig: ParkingRig, command_type: str, *, slow_arm: bool) -> dict[str, Any]:
    """Send the command, SIGKILL the agent once the board started the motor for it (before the
    arm arrives, so before the reply), start a new agent; the command's reply."""
    since = len(rig.sim.raw)
    envelope = rig.envelope(command_type, order_id=ORDER)
    rig.send(envelope)
    rig.wait_sim(command_type, since)
    rig.kill_agent()
    assert rig.replies(envelope["id"]) == []
    assert rig.sim.state()["position"] == "moving"
    restarted_at = len(rig.sim.raw)
    rig.start_agent()
    if slow_arm:  # the new agent, ready, has read the board while the arm still travelled
        assert rig.sim.state()["position"] == "moving"

    replies = rig.wait_replies(envelope["id"], 1)
    # The broker may deliver the command again to the new agent: refused as replayed.
    interrupted = [r for r in rig.replies(envelope["id"]) if r["code"] != "replayed"]
    assert len(interrupted) == 1, replies
    # Nothing was sent to the motor after the restart: the one move was the killed command's.
    rig.wait_sim(
        "position", restarted_at, position="lowered" if command_type == "lower" else "raised"
    )
    assert rig.sim_lines("lower", restarted_at) == []
    assert rig.sim_lines("raise", restarted_at) == []
    return interrupted[0]


@pytest.mark.parametrize("kill", KILL_POINTS, ids=str)
def test_a_move_survives_sigkill_of_the_agent(tmp_path: Path, kill: KillPoint) -> None:
    options: dict[str, Any] = {}
    if kill.slow_arm:
        options = {
            "sim_args": ("--move-ms", str(SLOW_MOVE_MS)),
            "parking": {"move_timeout_s": SLOW_MOVE_TIMEOUT_S},
        }
    with parking_rig(tmp_path, **options) as rig:
        rig.lock_shows("raised")
        if kill.move == "lower":
            lowered = killed_mid_move(rig, "lower", slow_arm=kill.slow_arm)
            assert (lowered["status"], lowered["result"]) == (
                "ok",
                {"order_id": ORDER, "lock": "lowered"},
            ), lowered
            started = rig.wait_record("parking_started", order_id=ORDER)
            assert rig.moves() == 1
            assert rig.lock_shows("lowered")["order_id"] == ORDER
            ended = rig.ok("raise", order_id=ORDER)["result"]
        else:
            started = rig.park(ORDER)
            raised = killed_mid_move(rig, "raise", slow_arm=kill.slow_arm)
            assert raised["status"] == "ok", raised
            ended = raised["result"]
            assert ended == rig.wait_record("parking_ended", order_id=ORDER)
        assert rig.lock_shows("raised")["order_id"] is None

        assert rig.moves() == 2
        records = rig.records()
        assert [(r["type"], r["order_id"]) for r in records] == [
            ("parking_started", ORDER),
            ("parking_ended", ORDER),
        ]
        assert records == [started, ended]
        assert_sessions_sound(records)
        # The parking clock ran on across the restart.
        wall = seconds_between(ended["started_at"], ended["ended_at"])
        assert abs(ended["duration_s"] - wall) <= 1.1, (ended, wall)
        assert_never_raised_over_a_car(rig.sim_lines())
        assert_agent_serving(rig)

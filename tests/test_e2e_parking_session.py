"""A whole parking session end to end: signed commands over mosquitto, the agent as a process,
the ground-lock simulator on a pty; parking_started once the arm is down, parking_ended with
its duration once it is up again."""

from __future__ import annotations

import time
from pathlib import Path

from parking_rig import (
    DEVICE,
    MOVE_MS,
    assert_never_raised_over_a_car,
    assert_sessions_sound,
    parking_rig,
)

from testbed.rig import assert_agent_serving

ORDER = "order-park-1"
PARKED_S = 1.2


def test_a_parking_session_end_to_end(tmp_path: Path) -> None:
    with parking_rig(tmp_path) as rig:
        free = rig.lock_shows("raised")
        assert (free["occupied"], free["order_id"]) == (False, None)

        sent = time.monotonic()
        lowered = rig.ok("lower", order_id=ORDER)
        # Replied only after the board reported the arm down, a full travel later.
        assert time.monotonic() - sent >= MOVE_MS / 1000
        assert lowered["result"] == {"order_id": ORDER, "lock": "lowered"}
        assert rig.sim.state()["position"] == "lowered"
        started = rig.wait_record("parking_started", order_id=ORDER)
        assert started["device_id"] == DEVICE
        parked = rig.lock_shows("lowered")
        assert (parked["order_id"], parked["occupied"]) == (ORDER, False)

        # A car parks, stays a while and leaves.
        rig.car(True)
        assert rig.lock_shows("lowered", occupied=True)["order_id"] == ORDER
        time.sleep(PARKED_S)
        rig.car(False)
        rig.lock_shows("lowered", occupied=False)

        raised = rig.ok("raise", order_id=ORDER)
        ended = rig.wait_record("parking_ended", order_id=ORDER)
        assert raised["result"] == ended
        assert ended["started_at"] == started["ts"]
        assert ended["ended_at"] == ended["ts"]
        assert isinstance(ended["duration_s"], int)
        assert ended["duration_s"] >= 1  # parked for more than PARKED_S
        assert rig.sim.state()["position"] == "raised"
        after = rig.lock_shows("raised")
        assert (after["order_id"], after["occupied"]) == (None, False)

        records = rig.records()
        assert [(r["type"], r["order_id"]) for r in records] == [
            ("parking_started", ORDER),
            ("parking_ended", ORDER),
        ]
        assert records == [started, ended]
        assert assert_sessions_sound(records) == [(ORDER, ended["duration_s"])]
        # One lower and one raise reached the motor, nothing else.
        assert rig.moves() == 2
        assert [e["event"] for e in rig.sim_lines() if e["event"] in ("raise", "lower")] == [
            "lower",
            "raise",
        ]
        # Telemetry went raised -> (moving) -> lowered -> (moving) -> raised, never elsewhere
        # ("unknown" only before the board's first report).
        shown = [t["lock"] for t in rig.on_topic("telemetry")]
        reported = shown[shown.index("raised") :]
        assert set(reported) <= {"raised", "moving", "lowered"}, shown
        assert set(shown) - set(reported) <= {"unknown"}, shown
        assert_never_raised_over_a_car(rig.sim_lines())
        assert_agent_serving(rig)

"""The agent SIGKILLed mid-rental and started again: the rental goes on from the store, nothing
is sent to the car on the way up, and the end record carries the original start."""

from __future__ import annotations

from pathlib import Path

from vehicle_rig import (
    DEVICE,
    TARIFF,
    assert_lock_reports_seen_on_car,
    expected_charges,
    seconds_between,
    vehicle_rig,
)

from testbed.rig import assert_agent_serving, assert_records_sound

ORDER = "order-e2e-restart"
TO_THE_CAR = ("command", "lock", "start_enable")


def test_a_rental_survives_a_sigkill_after_unlock(tmp_path: Path) -> None:
    with vehicle_rig(tmp_path) as rig:
        rig.readings()
        started = rig.rent(ORDER)
        rig.telemetry(lambda t: t["start_enabled"] is True and t["lock"] == "unlocked")

        restart_mark = len(rig.sim.raw)
        rig.restart_agent()
        resumed = rig.readings()
        assert (resumed["rental"], resumed["lock"], resumed["start_enabled"]) == (
            "active",
            "unlocked",
            True,
        )

        rig.engine(True)
        rig.sim.send(op="drive", km=3, fuel_pct_used=2.4, seconds=0.5)
        rig.sim.wait_event("drive", timeout=15, done=True)
        rig.engine(False)
        rig.telemetry(lambda t: t["odometer_km"] == 12348.6 and t["fuel_pct"] == 59.6)
        # Nothing went to the car between the restart and end_rental.
        before_end = len(rig.sim.raw)
        quiet = [
            e
            for e in rig.sim_lines(since=restart_mark)[: before_end - restart_mark]
            if e.get("event") in TO_THE_CAR
        ]
        assert quiet == []

        ended = rig.ok("end_rental", order_id=ORDER)["result"]
        assert ended["started_at"] == started["ts"]
        assert (ended["fuel_start_pct"], ended["odometer_start_km"]) == (
            started["fuel_pct"],
            started["odometer_km"],
        )
        assert (ended["fuel_end_pct"], ended["odometer_end_km"]) == (59.6, 12348.6)
        assert ended["distance_km"] == 3.0
        # The rental clock ran on across the restart.
        wall = seconds_between(ended["started_at"], ended["ended_at"])
        assert abs(ended["duration_s"] - wall) <= 1.5, (ended["duration_s"], wall)
        assert ended["charges"] == expected_charges(ended, TARIFF)
        assert ended["charges"]["fuel_cents"] == 227  # 50 l * 2.4 % * 189 c/l = 226.8

        records = rig.records()
        assert [(r["type"], r["order_id"]) for r in records] == [
            ("rental_started", ORDER),
            ("rental_ended", ORDER),
        ]
        assert_records_sound(records, DEVICE)
        assert len(rig.on_topic("records")) >= len(records)
        state = rig.sim.state()
        assert (state["lock"], state["start_enabled"]) == ("locked", False)
        assert state["counters"]["start_disabled_while_running"] == 0
        assert_lock_reports_seen_on_car(rig)
        assert_agent_serving(rig)

"""Car faults end to end: a stuck lock and a silent bus. The box reports what the bus confirms,
or that it does not know; never a state the car is not in."""

from __future__ import annotations

import time
from pathlib import Path

from vehicle_rig import (
    FAST,
    SLOWEST_CYCLE_S,
    STALE_CYCLES,
    TELEMETRY_S,
    assert_lock_reports_seen_on_car,
    seconds_between,
    vehicle_rig,
)

ORDER = "order-e2e-fault"
BUS_SIGNALS = (
    "fuel_pct",
    "odometer_km",
    "speed_kmh",
    "ignition",
    "engine_running",
    "doors_closed",
    "start_enabled",
)


def test_a_stuck_lock_fails_the_lock_command_and_shows_fault(tmp_path: Path) -> None:
    with vehicle_rig(tmp_path) as rig:
        rig.readings()
        rig.rent(ORDER)
        rig.sim.send(op="fault", name="lock_stuck", on=True)
        rig.sim.wait_event("fault", name="lock_stuck", on=True)
        since = rig.mark()

        started = time.monotonic()
        reply = rig.command("lock", order_id=ORDER)
        took = time.monotonic() - started
        assert (reply["status"], reply["code"]) == ("failed", "hardware_timeout")
        assert "locked" in reply["detail"]
        frames = 1 + FAST["command_retries"]
        assert took >= frames * FAST["command_timeout_s"] * 0.9
        fault = rig.wait_event("lock_fault", since)
        assert (fault["target"], fault["frames_sent"], fault["bus_shows"]) == (
            "locked",
            frames,
            "unlocked",
        )
        shown = rig.telemetry(lambda t: t["lock"] == "fault")
        assert shown["rental"] == "active"
        stuck = rig.sim_lines("stuck")
        assert len(stuck) == frames
        assert all(e["command"] == "lock" for e in stuck)
        assert rig.sim.state()["lock"] == "unlocked"
        rig.telemetry(lambda t: t["lock"] == "fault")  # and it stays so
        assert all(t["lock"] != "locked" for t in rig.on_topic("telemetry", since))

        # Repaired: the next lock goes through and clears the fault.
        rig.sim.send(op="fault", name="lock_stuck", on=False)
        rig.sim.wait_event("fault", name="lock_stuck", on=False)
        assert rig.ok("lock", order_id=ORDER)["result"]["lock"] == "locked"
        rig.wait_event("lock_fault_cleared", since)
        assert rig.telemetry(lambda t: t["lock"] != "fault")["lock"] == "locked"
        assert_lock_reports_seen_on_car(rig)


def test_a_silent_bus_makes_every_reading_unknown_and_back(tmp_path: Path) -> None:
    with vehicle_rig(tmp_path) as rig:
        known = rig.readings()
        rig.sim.send(op="fault", name="silent", on=True)
        rig.sim.wait_event("fault", name="silent", on=True)

        blind = rig.telemetry(
            lambda t: all(t[name] is None for name in BUS_SIGNALS) and t["lock"] == "unknown",
            timeout=STALE_CYCLES * SLOWEST_CYCLE_S + 5,
        )
        assert (blind["rental"], blind["in_service"]) == ("none", True)
        # Once unknown, nothing is made up while the bus stays silent; with nothing changing,
        # a snapshot comes every telemetry.interval_s.
        following = rig.telemetry(lambda t: True)
        assert all(following[name] is None for name in BUS_SIGNALS)
        assert following["lock"] == "unknown"
        period = seconds_between(blind["ts"], following["ts"])
        assert TELEMETRY_S - 0.1 <= period <= TELEMETRY_S + 0.3, period

        rig.sim.send(op="fault", name="silent", on=False)
        back = rig.readings(timeout=SLOWEST_CYCLE_S + 5)
        for name in (
            "fuel_pct",
            "odometer_km",
            "speed_kmh",
            "doors_closed",
            "engine_running",
            "start_enabled",
            "lock",
            "ignition",
        ):
            assert back[name] == known[name], name

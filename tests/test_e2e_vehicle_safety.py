"""The safety rules end to end: a rental never ends with the engine running or a door open, and
start enable is never withdrawn from a running engine, only once it stops."""

from __future__ import annotations

from pathlib import Path

from vehicle_rig import DEVICE, vehicle_rig

from testbed.rig import assert_records_sound

ORDER = "order-e2e-safe"


def test_end_rental_is_refused_while_the_engine_runs_or_a_door_is_open(tmp_path: Path) -> None:
    with vehicle_rig(tmp_path) as rig:
        rig.readings()
        rig.rent(ORDER)

        rig.engine(True)
        running = rig.command("end_rental", order_id=ORDER)
        assert (running["status"], running["code"]) == ("rejected", "not_allowed")
        assert "engine running" in running["detail"]
        assert "door" not in running["detail"]

        rig.engine(False)
        rig.door(True)
        door = rig.command("end_rental", order_id=ORDER)
        assert (door["status"], door["code"]) == ("rejected", "not_allowed")
        assert "door open" in door["detail"]
        assert "engine" not in door["detail"]

        rig.sim.send(op="ignition", on=True)  # the renter inside, the key turned: not running
        refused = rig.telemetry(lambda t: t["ignition"] is True)
        assert (refused["rental"], refused["lock"], refused["start_enabled"]) == (
            "active",
            "unlocked",
            True,
        )
        assert [r["type"] for r in rig.records()] == ["rental_started"]
        assert not [
            e
            for e in rig.sim_lines()
            if e.get("event") == "command" and e["name"] in ("lock", "start_disable")
        ]

        rig.sim.send(op="ignition", on=False)
        rig.door(False)
        ended = rig.ok("end_rental", order_id=ORDER)["result"]
        assert ended["type"] == "rental_ended"
        assert ended["order_id"] == ORDER
        assert ended["check"]["doors_closed"] is True
        assert ended["check"]["engine_running"] is False
        assert ended["check"]["lock"] == "locked"
        assert_records_sound(rig.records(), DEVICE)
        assert [r["type"] for r in rig.records()] == ["rental_started", "rental_ended"]


def test_lock_with_the_engine_running_withdraws_start_enable_once_it_stops(
    tmp_path: Path,
) -> None:
    with vehicle_rig(tmp_path) as rig:
        rig.readings()
        rig.rent(ORDER)
        rig.engine(True)
        since = rig.mark()

        locked = rig.ok("lock", order_id=ORDER)
        assert locked["result"] == {
            "lock": "locked",
            "start_enabled": True,
            "start_withdraw_pending": True,
            "as_commanded": [],
        }
        pending = rig.wait_event("start_withdraw_pending", since)
        assert pending["engine"] == "running"
        driving = rig.telemetry(lambda t: t["lock"] == "locked")
        assert (driving["start_enabled"], driving["engine_running"]) == (True, True)
        state = rig.sim.state()
        assert (state["lock"], state["start_enabled"], state["engine_running"]) == (
            "locked",
            True,
            True,
        )
        sent = [e["name"] for e in rig.sim_lines() if e.get("event") == "command"]
        assert "start_disable" not in sent

        rig.engine(False)
        parked = rig.telemetry(lambda t: t["start_enabled"] is False)
        assert (parked["lock"], parked["engine_running"]) == ("locked", False)
        state = rig.sim.state()
        assert (state["start_enabled"], state["engine_running"]) == (False, False)
        assert state["counters"]["start_disabled_while_running"] == 0
        withdrawn = [
            e for e in rig.sim_lines() if e.get("event") == "start_enable" and e["enabled"] is False
        ]
        assert withdrawn
        assert all(e["engine_running"] is False for e in withdrawn)
        # While the engine ran, no telemetry showed start enable withdrawn.
        during = rig.on_topic("telemetry", since)
        assert all(t["start_enabled"] is True for t in during if t["engine_running"] is True)

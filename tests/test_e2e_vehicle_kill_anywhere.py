"""A rental survives SIGKILL at any point: the agent is killed with a command in flight (or the
car mid-drive), started again on the same store, and the rental is finished with fresh
commands where the killed one did not take effect. Whatever the point, the records and the car
end the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from vehicle_rig import (
    DEVICE,
    TARIFF,
    VehicleRig,
    assert_lock_reports_seen_on_car,
    expected_charges,
    vehicle_rig,
)

from testbed.rig import assert_agent_serving, assert_records_sound

# Where the agent is killed: right after the cloud published the command (`_sent`), when the
# agent has just taken it (`_accepted`: before its effects commit, so the broker delivers it
# again), once its first frame went to the car (`_in_flight`: committed, its reply owed), or
# while the car is driving.
KILL_POINTS = [
    "start_rental_sent",
    "unlock_accepted",
    "unlock_in_flight",
    "mid_drive",
    "end_rental_accepted",
    "end_rental_in_flight",
]
FIRST_FRAME = {"unlock": "unlock", "end_rental": "lock"}
# For `_in_flight`, a slower lock, so the kill surely lands before the operation ends.
SLOW_ACTUATORS = {
    "sim_args": ("--actuator-delay-ms", "400"),
    "vehicle": {"command_timeout_s": 1.0},
}
INTERRUPTED = ("failed", "hardware_fault", "interrupted by restart")


def killed_while(rig: VehicleRig, command_type: str, kill_at: str, **args: Any) -> dict[str, Any]:
    """Send a command; if `kill_at` is one of its points, SIGKILL the agent there and restart
    it. The command's reply if ok; if the restart interrupted it, a fresh command's."""
    envelope = rig.backend.command(DEVICE, command_type, args)
    rig.send(envelope)
    if kill_at.startswith(command_type + "_"):
        if not kill_at.endswith("_sent"):
            rig.agent.wait_event("command.accepted", command_id=envelope["id"])
        if kill_at.endswith("_in_flight"):
            rig.agent.wait_event("can.command_sent", command=FIRST_FRAME[command_type])
        rig.restart_agent()
    first = rig.reply_to(envelope["id"])
    if first["status"] == "ok":
        assert not kill_at.startswith(command_type + "_in_flight"), first
        return first
    assert (first["status"], first["code"], first["detail"]) == INTERRUPTED, first
    return rig.ok(command_type, **args)


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_a_rental_survives_sigkill_at_any_point(tmp_path: Path, kill_at: str) -> None:
    order = f"order-kill-{kill_at}"
    options = SLOW_ACTUATORS if kill_at.endswith("_in_flight") else {}
    with vehicle_rig(tmp_path, **options) as rig:
        rig.readings()
        killed_while(rig, "start_rental", kill_at, order_id=order, renter="renter-7", tariff=TARIFF)
        killed_while(rig, "unlock", kill_at, order_id=order)
        started = rig.wait_record("rental_started", order_id=order)
        assert rig.telemetry(lambda t: t["start_enabled"] is True)["rental"] == "active"

        if kill_at == "mid_drive":
            rig.engine(True)
            rig.sim.send(op="drive", km=5, fuel_pct_used=4.0, seconds=1.0)
            rig.sim.wait_event("drive", done=False)
            rig.restart_agent()
            rig.sim.wait_event("drive", timeout=15, done=True)
            rig.engine(False)
        end_readings = (58.0, 12350.6) if kill_at == "mid_drive" else (62.0, 12345.6)
        rig.telemetry(lambda t: (t["fuel_pct"], t["odometer_km"]) == end_readings)

        ended = killed_while(rig, "end_rental", kill_at, order_id=order)["result"]

        records = rig.records()
        assert [(r["type"], r["order_id"]) for r in records] == [
            ("rental_started", order),
            ("rental_ended", order),
        ]
        assert_records_sound(records, DEVICE)
        assert records == [started, ended]
        assert ended["started_at"] == started["ts"]
        assert (ended["fuel_start_pct"], ended["odometer_start_km"]) == (62.0, 12345.6)
        assert (started["fuel_pct"], started["odometer_km"]) == (62.0, 12345.6)
        assert (ended["fuel_end_pct"], ended["odometer_end_km"]) == end_readings
        assert ended["distance_km"] == round(end_readings[1] - 12345.6, 1)
        assert ended["charges"] == expected_charges(ended, TARIFF)
        # 50 l * 4 % * 189 c/l after the drive
        assert ended["charges"]["fuel_cents"] == (378 if kill_at == "mid_drive" else 0)

        # Every reply after a command's first is a refused redelivery, never a second effect.
        by_id: dict[str, list[dict[str, Any]]] = {}
        for reply in rig.on_topic("replies"):
            by_id.setdefault(reply["command_id"], []).append(reply)
        for replies in by_id.values():
            first, *later = replies
            assert (
                first["status"] == "ok"
                or (first["status"], first["code"], first["detail"]) == INTERRUPTED
            ), replies
            assert all(r == first or r["code"] == "replayed" for r in later), replies

        final = rig.telemetry(lambda t: t["rental"] == "none")
        state = rig.sim.state()
        assert (final["lock"], final["start_enabled"]) == (state["lock"], state["start_enabled"])
        assert (state["lock"], state["start_enabled"]) == ("locked", False)
        assert state["counters"]["start_disabled_while_running"] == 0
        assert_lock_reports_seen_on_car(rig)
        assert_agent_serving(rig)

"""The broker goes away mid-rental while the box writes records: every record still reaches the
cloud once the broker is back, in seq order, without a gap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vehicle_rig import (
    DEVICE,
    TARIFF,
    VehicleRig,
    vehicle_rig,
)

from testbed.rig import assert_agent_serving, assert_records_sound

ORDER = "order-e2e-outage"
# A slower lock: the broker is surely down before the command's record is written.
SLOW_ACTUATORS = {"sim_args": ("--actuator-delay-ms", "400"), "vehicle": {"command_timeout_s": 1.0}}


def agent_lines(rig: VehicleRig) -> list[dict[str, Any]]:
    assert rig.agent is not None
    return [json.loads(line) for line in rig.agent.raw if line.startswith("{")]


def with_broker_down(rig: VehicleRig, command_type: str, record_type: str) -> dict[str, Any]:
    """Send a command and stop the broker as soon as the agent has taken it; start the broker
    again once the command's record is written. The envelope."""
    envelope = rig.backend.command(DEVICE, command_type, {"order_id": ORDER})
    rig.send(envelope)
    agent = rig.agent
    assert agent is not None
    agent.wait_event("command.accepted", command_id=envelope["id"])
    rig.broker.stop()
    agent.wait_event("mqtt.disconnected")
    agent.wait_event("record.written", type=record_type)
    # Nothing reached the cloud meanwhile: the broker is down.
    assert rig.replies(envelope["id"]) == []
    rig.broker.start()
    agent.wait_event("mqtt.connected")
    return envelope


def test_records_written_while_the_broker_is_down_arrive_in_order(tmp_path: Path) -> None:
    with vehicle_rig(tmp_path, **SLOW_ACTUATORS) as rig:
        rig.readings()
        rig.ok("start_rental", order_id=ORDER, renter="renter-7", tariff=TARIFF)

        unlock = with_broker_down(rig, "unlock", "rental_started")
        assert rig.reply_to(unlock["id"])["status"] == "ok"
        started = rig.wait_record("rental_started", order_id=ORDER)

        rig.engine(True)
        rig.sim.send(op="drive", km=2, fuel_pct_used=1.2, seconds=0.5)
        rig.sim.wait_event("drive", timeout=15, done=True)
        rig.engine(False)
        rig.telemetry(lambda t: t["odometer_km"] == 12347.6 and t["fuel_pct"] == 60.8)

        end = with_broker_down(rig, "end_rental", "rental_ended")
        reply = rig.reply_to(end["id"])
        assert reply["status"] == "ok"
        ended = rig.wait_record("rental_ended", order_id=ORDER)
        assert reply["result"] == ended
        assert ended["started_at"] == started["ts"]
        assert ended["distance_km"] == 2.0

        arrived = rig.records_in_arrival_order()
        assert [r["type"] for r in arrived] == ["rental_started", "rental_ended"]
        assert_records_sound(arrived, DEVICE)  # in arrival order: seq 1, 2
        # Each reply arrived once per command it answers, in the order the box wrote them.
        replies = rig.on_topic("replies")
        ids = [r["command_id"] for r in replies]
        assert ids.index(unlock["id"]) < ids.index(end["id"])
        assert rig.telemetry(lambda t: t["rental"] == "none")["lock"] == "locked"
        assert_agent_serving(rig)
        # Two broker outages, and the CAN side was opened once and never restarted.
        can_lines = [e["event"] for e in agent_lines(rig) if e["event"].startswith("can.")]
        assert can_lines.count("can.open") == 1
        assert "can.bus_lost" not in can_lines
        assert "can.open_failed" not in can_lines

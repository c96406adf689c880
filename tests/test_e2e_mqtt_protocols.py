"""The whole vehicle rental and the cabinet flow under both protocol versions (the rest of the
suite runs MQTT 5, the default): records exactly once, and the commands queued while the agent
was away delivered after its restart (the session kept)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cabinet_rig import CabinetRig
from vehicle_rig import DEVICE, TARIFF, VehicleRig

from edge.configure.config_file import with_settings
from testbed.rig import BoxRig, assert_agent_serving, assert_records_sound, closed_after

PROTOCOLS = ["5", "3.1.1"]


def speak(rig: BoxRig, protocol: str) -> None:
    """The rig's agent config set to `protocol` (before its agent starts)."""
    text = rig.config_path.read_text()
    rig.config_path.write_bytes(with_settings(text, {"mqtt.protocol": protocol}))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_rental_with_commands_queued_while_the_agent_was_away(
    protocol: str, tmp_path: Path
) -> None:
    rig = VehicleRig.__new__(VehicleRig)
    BoxRig.__init__(
        rig,
        tmp_path,
        "vehicle",
        device_id=DEVICE,
        box_settings={"vehicle": {"command_timeout_s": 0.5, "command_retries": 1}},
    )
    with closed_after(rig):
        speak(rig, protocol)
        rig.start_agent()
        rig.rent("o1", TARIFF)
        assert rig.agent is not None
        rig.agent.stop()  # away: the broker keeps its session and queues what comes
        ended = rig.send_command("end_rental", order_id="o1")
        rig.start_agent()
        assert rig.reply_to(ended)["status"] == "ok", rig.reply_to(ended)
        rig.wait_record("rental_ended", order_id="o1")
        records = rig.records()
        assert [r["type"] for r in records] == ["rental_started", "rental_ended"]
        assert_records_sound(records, DEVICE)
        assert len(rig.agent_lines("agent.ready")) == 2
        assert_agent_serving(rig)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_cabinet_flow(protocol: str, tmp_path: Path) -> None:
    with closed_after(CabinetRig(tmp_path, start=False)) as rig:
        speak(rig, protocol)
        rig.start_agent()
        reserved = rig.ok("reserve", reservation_id="r1", purpose="rent", count=1, ttl_s=60)
        (slot,) = reserved["result"]["slots"]
        rig.ok("rent", order_id="o1", reservation_id="r1")
        rig.take(slot)
        out = rig.wait_record("bank_out", order_id="o1")
        assert out["slot"] == slot
        assert_records_sound(rig.records(), rig.device_id)
        assert_agent_serving(rig)

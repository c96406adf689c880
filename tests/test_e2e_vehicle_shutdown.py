"""SIGTERM lets the command in flight finish: the car is unlocked, the reply is ok and reaches
the cloud, and the agent exits 0."""

from __future__ import annotations

from pathlib import Path

from vehicle_rig import DEVICE, TARIFF, vehicle_rig


def test_sigterm_finishes_the_command_in_flight(tmp_path: Path) -> None:
    with vehicle_rig(
        tmp_path, sim_args=("--actuator-delay-ms", "600"), vehicle={"command_timeout_s": 1.5}
    ) as rig:
        rig.readings()
        rig.ok("start_rental", order_id="o-term", renter="renter-7", tariff=TARIFF)
        unlock = rig.backend.command(DEVICE, "unlock", {"order_id": "o-term"})
        rig.send(unlock)
        agent = rig.agent
        assert agent is not None
        agent.wait_event("can.command_sent", command="unlock")
        assert agent.stop() == 0
        assert '"agent.stopped"' in "".join(agent.raw)
        assert rig.reply_to(unlock["id"])["status"] == "ok"
        assert rig.sim.state()["lock"] == "unlocked"

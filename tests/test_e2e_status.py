"""`edge-agent status` and `edge-agent outbox` read the store while the agent runs: the rental
or the slots, the outbox depth, the last successful sync, the last fault; and they say
plainly when the agent has stopped or was killed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from cabinet_rig import CabinetRig, cabinet_rig, empty
from vehicle_rig import VehicleRig, vehicle_rig

from edge.version import agent_version
from testbed.processes import REPO
from testbed.waiting import wait_until


def edge_agent(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )


def status(rig: VehicleRig | CabinetRig) -> tuple[int, dict[str, Any], str]:
    """(exit code, the --json status, the text status)."""
    as_json = edge_agent("status", "--config", rig.config_path, "--json")
    as_text = edge_agent("status", "--config", rig.config_path)
    assert as_json.stderr == "", as_json.stderr
    assert as_text.stderr == "", as_text.stderr
    assert as_json.returncode == as_text.returncode
    return as_json.returncode, json.loads(as_json.stdout), as_text.stdout


def wait_status(rig: VehicleRig | CabinetRig, ok: Any, timeout: float = 10.0) -> dict[str, Any]:
    shown: dict[str, Any] = {}

    def showing() -> dict[str, Any] | None:
        nonlocal shown
        _, shown, _ = status(rig)
        return shown if ok(shown) else None

    found = wait_until(showing, timeout, lambda: f"the status; last shown {shown}", poll_s=0.2)
    assert found is not None
    return found


def test_status_shows_the_rental_the_sync_and_the_version(tmp_path: Path) -> None:
    with vehicle_rig(tmp_path) as rig:
        rig.readings()
        rig.rent("order-status")
        code, shown, text = status(rig)
        assert code == 0
        agent = shown["agent"]
        assert agent["state"] == "running"
        assert agent["ready_at"]
        assert agent["version"] == agent_version()
        assert agent["pid"] == rig.agent.proc.pid
        assert shown["box"]["rental"] == "active"
        assert shown["box"]["order_id"] == "order-status"
        assert shown["box"]["renter"] == "renter-7"
        assert shown["box"]["started_at"]
        assert f"edge-agent {agent_version()}" in text
        assert "rental      active order order-status renter renter-7" in text
        synced = wait_status(rig, lambda s: s["outbox"]["depth"] == 0 and s["mqtt"]["last_sync"])
        assert synced["mqtt"]["connected"] is True
        assert synced["outbox"]["last_record_seq"] == 1  # rental_started
        assert synced["mqtt"]["last_sync"] >= synced["box"]["started_at"]


def test_outbox_and_status_while_the_broker_is_down(tmp_path: Path) -> None:
    with cabinet_rig(tmp_path) as rig:
        slot = empty(rig.slots())[0]
        before = wait_status(rig, lambda s: s["mqtt"]["connected"] is True)
        rig.broker.stop()
        assert rig.agent is not None
        rig.agent.wait_event("mqtt.disconnected")
        rig.insert(slot, "RT-DOWN1", 80)
        rig.agent.wait_event("record.written", type="bank_in")

        listing = edge_agent("outbox", "--config", rig.config_path, "--json")
        assert listing.returncode == 0, listing.stderr
        waiting = json.loads(listing.stdout)
        assert waiting["depth"] == 1
        [item] = waiting["items"]
        assert (item["topic"], item["type"], item["seq"]) == ("records", "bank_in", 1)
        text = edge_agent("outbox", "--config", rig.config_path).stdout
        assert text.startswith("1 waiting:")
        assert "record seq 1 bank_in" in text

        down = wait_status(
            rig, lambda s: s["last_fault"] is not None and not s["mqtt"]["connected"]
        )
        assert down["outbox"] == {
            "depth": 1,
            "records": 1,
            "replies": 0,
            "oldest_id": item["id"],
            "last_record_seq": 1,
        }
        assert down["last_fault"]["event"].startswith("mqtt.")
        assert down["last_fault"]["level"] in ("warning", "error")
        slots = {s["slot"]: s for s in down["box"]["slots"]}
        assert slots[slot]["state"] == "occupied"
        assert slots[slot]["bank_id"] == "RT-DOWN1"
        text = status(rig)[2]
        assert f"{slot:>4} occupied         RT-DOWN1" in text
        assert '"boards":[{"address":1,"state":"ok"}' in text  # heartbeat telemetry, as JSON

        rig.broker.start()
        rig.wait_record("bank_in", slot=slot)
        after = wait_status(
            rig, lambda s: s["outbox"]["depth"] == 0 and s["mqtt"]["connected"] is True
        )
        assert (
            before["mqtt"]["last_sync"] is None
            or after["mqtt"]["last_sync"] > before["mqtt"]["last_sync"]
        )
        assert after["mqtt"]["last_sync"] is not None
        empty_listing = edge_agent("outbox", "--config", rig.config_path)
        assert empty_listing.stdout.startswith("0 waiting")


def test_status_after_a_stop_and_after_a_kill(tmp_path: Path) -> None:
    with vehicle_rig(tmp_path) as rig:
        assert rig.agent is not None
        rig.agent.stop()
        code, shown, text = status(rig)
        assert (code, shown["agent"]["state"]) == (3, "stopped")
        assert shown["agent"]["stopped_at"]
        assert shown["mqtt"]["connected"] is False
        rig.start_agent()
        assert status(rig)[0] == 0
        rig.kill_agent()
        code, shown, text = status(rig)
        assert (code, shown["agent"]["state"]) == (3, "gone")
        assert "agent       gone" in text


def test_status_without_a_store_says_so(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    example = (REPO / "config" / "parking.example.toml").read_text()
    config.write_text(example.replace("/var/lib/edge-agent/edge.db", str(tmp_path / "none.db")))
    for command in ("status", "outbox"):
        shown = edge_agent(command, "--config", config)
        assert shown.returncode == 1
        assert shown.stdout == ""
        assert str(tmp_path / "none.db") in shown.stderr
        assert "does not exist" in shown.stderr

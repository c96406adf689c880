"""The store under trouble, with the agent and the simulator as processes
(docs/time-and-storage.md): events kept across a restart while the broker is down; a disk that
fills up (a small tmpfs and a ballast file) on each kind of box; events dropped for records,
counted in telemetry; a store that cannot be opened at start, or stops
taking writes while the agent runs (the power-cut FUSE filesystem switched to EROFS). No crash
loop, no actuator moved for new work, and the box recovers by itself."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cabinet_rig import CabinetRig, cabinet_rig, rentable
from parking_rig import parking_rig
from test_storage_limits import small_mount
from vehicle_rig import TARIFF, vehicle_rig

from testbed.powercut import PowerCutMount
from testbed.rig import BoxRig, assert_agent_serving, wait_until

__all__ = ["small_mount"]


@pytest.fixture
def powercut(tmp_path: Path) -> Iterator[PowerCutMount]:
    mount = PowerCutMount(tmp_path / "powercut")
    try:
        yield mount
    finally:
        mount.stop()


def on(store_dir: Path) -> dict[str, Any]:
    return {"sections": {"storage": {"path": str(store_dir / "edge.db")}}}


def ejects(rig: CabinetRig) -> int:
    return len(rig.agent_lines("cabinet.eject_sent")) + len(rig.sim_lines("eject"))


def storage_telemetry(rig: CabinetRig, state: str) -> dict[str, Any]:
    return rig.telemetry(lambda t: t["storage"] == state, timeout=30)


def test_events_raised_while_the_broker_is_down_survive_a_restart(tmp_path: Path) -> None:
    with cabinet_rig(tmp_path) as rig:
        pulled = rentable(rig.slots())[:2]
        since = rig.mark()
        rig.broker.stop()
        for slot in pulled:
            rig.sim.send(op="remove", slot=slot)  # pulled by force: a forced_removal event each
        # Logged as raised, then stored: SIGKILLed once both are in the store, not before.
        wait_until(lambda: stored_events(tmp_path / "edge.db") == 2, 15, "both events stored")
        rig.restart_agent()  # SIGKILL: only what is in the store is left
        rig.broker.start()
        for slot in pulled:
            rig.wait_event("forced_removal", since, timeout=30, slot=slot)
        assert_agent_serving(rig)


def stored_events(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as connection:
        count: int = connection.execute("SELECT count(*) FROM events").fetchone()[0]
    return count


def fill(mount: Path, leave: int = 48 * 1024) -> Path:
    """A ballast file that fills the disk, but for `leave` bytes (less than the store's
    reserve: the replies to the refusals still fit)."""
    ballast = mount / "ballast"
    with ballast.open("wb", buffering=0) as file:
        with contextlib.suppress(OSError):
            while True:
                file.write(b"\0" * 4096)
        file.truncate(max(0, file.tell() - leave))
    return ballast


def full_disk_refuses(rig: BoxRig, mount: Path, command_type: str, **args: Any) -> Path:
    """Fills the disk but for less than the store's reserve: `command_type` (new work) is
    refused `busy`, and that reply reaches the cloud, with a detail naming the space; the
    storage event and telemetry say so. Returns the ballast."""
    since = rig.mark()
    ballast = fill(mount)
    refused = rig.refused(command_type, "busy", **args)
    assert refused["detail"].startswith("storage"), refused

    def full_reported(_: object) -> bool:
        return bool(rig.events("storage_short", since) or rig.events("storage_unwritable", since))

    rig.cloud.wait_until(full_reported, 30)
    assert rig.telemetry(lambda t: True)["storage"] in ("short", "unwritable")
    return ballast


def recovers(rig: BoxRig, ballast: Path) -> None:
    """Space returns: the box says so by itself, and takes new work again."""
    since = rig.mark()
    ballast.unlink()
    rig.wait_event("storage_recovered", since, timeout=30)
    rig.telemetry(lambda t: t["storage"] == "ok", timeout=30)


def test_a_full_disk_refuses_new_work_moves_nothing_and_recovers(
    tmp_path: Path, small_mount: Path
) -> None:
    with cabinet_rig(tmp_path, **on(small_mount)) as rig:
        slots = rig.slots()
        before = ejects(rig)
        reserve = {"reservation_id": "res-full", "purpose": "rent", "count": 1, "ttl_s": 600}
        ballast = full_disk_refuses(rig, small_mount, "reserve", **reserve)
        # Each refusal is a reply in the outbox: the second one still fits, and arrives.
        refused = rig.refused("rent", "busy", order_id="order-full", count=1)
        assert refused["detail"].startswith("storage"), refused
        assert ejects(rig) == before
        recovers(rig, ballast)
        reserved = rig.ok("reserve", **{**reserve, "reservation_id": "res-after"})
        rig.ok("rent", order_id="order-after", count=1)
        rig.take(next(n for n in rentable(slots) if n not in reserved["result"]["slots"]))
        rig.wait_record("bank_out", order_id="order-after")
        assert_agent_serving(rig)


def test_a_full_disk_refuses_a_rental_and_recovers(tmp_path: Path, small_mount: Path) -> None:
    with vehicle_rig(tmp_path, **on(small_mount)) as rig:
        rig.readings()
        rental = {"order_id": "order-full", "renter": "renter-7", "tariff": TARIFF}
        ballast = full_disk_refuses(rig, small_mount, "start_rental", **rental)
        parked = rig.telemetry(lambda t: True)
        assert (parked["rental"], parked["lock"], parked["start_enabled"]) == (
            "none",
            "locked",
            False,
        )
        recovers(rig, ballast)
        rig.rent("order-after")
        assert_agent_serving(rig)


def test_a_full_disk_refuses_a_parking_session_and_recovers(
    tmp_path: Path, small_mount: Path
) -> None:
    with parking_rig(tmp_path, **on(small_mount)) as rig:
        rig.lock_shows("raised")
        moves = rig.moves()
        ballast = full_disk_refuses(rig, small_mount, "lower", order_id="order-full")
        assert rig.moves() == moves
        assert rig.sim.state()["position"] == "raised"
        recovers(rig, ballast)
        rig.park("order-after")
        assert_agent_serving(rig)


def test_events_dropped_for_records_are_counted_in_telemetry(
    tmp_path: Path, small_mount: Path
) -> None:
    with cabinet_rig(tmp_path, **on(small_mount)) as rig:
        slots = rig.slots()
        pulled = rentable(slots)[:2]
        empty = next(n for n, slot in slots.items() if slot["state"] == "empty")
        rig.broker.stop()
        for slot in pulled:
            rig.sim.send(op="remove", slot=slot)  # a forced_removal event each, stored
        wait_until(lambda: stored_events(small_mount / "edge.db") >= 2, 15, "events stored")
        assert rig.agent is not None
        ballast = fill(small_mount, leave=0)
        rig.insert(empty, "PB-ROOM", 90)  # its bank_in record needs the events' room
        rig.agent.wait_event("storage.events_dropped_for_records", timeout=30)
        rig.broker.start()
        assert rig.telemetry(lambda t: t["events_dropped"] >= 2, timeout=30)
        record = rig.wait_record("bank_in", timeout=30, slot=empty)
        assert record["bank_id"] == "PB-ROOM"
        ballast.unlink()
        assert_agent_serving(rig)


def test_a_store_that_cannot_be_opened_at_start_is_tried_again(
    tmp_path: Path, powercut: PowerCutMount
) -> None:
    powercut.fail("erofs")
    with cabinet_rig(tmp_path, start=False, **on(powercut.mountpoint)) as rig:
        agent = rig.start_agent(wait_ready=False)
        agent.wait_event("agent.store_unwritable", timeout=30)
        agent.wait_event("agent.store_unwritable", timeout=30)  # tried again, not exited
        assert agent.proc.poll() is None
        powercut.fail(None)
        agent.wait_event("agent.ready", timeout=30)
        rig.ok("reserve", reservation_id="res-1", purpose="rent", count=1, ttl_s=600)
        assert_agent_serving(rig)


def test_a_store_turned_read_only_while_running_is_no_crash_loop(
    tmp_path: Path, powercut: PowerCutMount
) -> None:
    with cabinet_rig(tmp_path, **on(powercut.mountpoint)) as rig:
        slots = rig.slots()
        since = rig.mark()
        assert rig.agent is not None
        powercut.fail("erofs")
        # The first write that fails tells the box; the reserve's reply waits in memory.
        held = rig.send_command(
            "reserve", reservation_id="res-ro", purpose="rent", count=1, ttl_s=600
        )
        rig.wait_event("storage_unwritable", since, timeout=30)
        storage_telemetry(rig, "unwritable")
        before = ejects(rig)
        refused = rig.send_command("rent", order_id="order-ro", count=1)
        busy = rig.agent.wait_event("command.rejected", command_id=refused, code="busy")
        assert "cannot be written" in busy["detail"]
        assert ejects(rig) == before
        assert rig.agent.proc.poll() is None
        powercut.fail(None)
        rig.wait_event("storage_recovered", since, timeout=30)
        assert rig.reply_to(held, timeout=30)["status"] == "ok"
        storage_telemetry(rig, "ok")
        taken = [n for n in rentable(slots) if n not in rig.reply_to(held)["result"]["slots"]]
        rig.ok("rent", order_id="order-after", count=1)
        rig.take(taken[0])
        rig.wait_record("bank_out", order_id="order-after")
        assert_agent_serving(rig)

"""The agent under a service manager, as a process: READY=1 once `agent.ready` is logged, the
watchdog pinged while the loop runs and not while it is frozen, STOPPING=1 on SIGTERM; a
missing CAN interface or serial port retried with backoff (and more start time asked for)
until it appears; an unusable store refused at start with one clear line."""

from __future__ import annotations

import signal
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from notify_socket import FakeNotifySocket

from edge.version import agent_version
from testbed.processes import AgentProcess, write_toml
from testbed.rig import BoxRig, closed_after
from testbed.waiting import wait_until

WATCHDOG_USEC = 900_000  # a beat every 0.3 s
BEAT_S = WATCHDOG_USEC / 1e6 / 3


@pytest.fixture
def notify(tmp_path: Path) -> Any:
    sock = FakeNotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


def service_env(notify: FakeNotifySocket) -> dict[str, str]:
    return {"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": str(WATCHDOG_USEC)}


def pings_between(notify: FakeNotifySocket, start: float, end: float) -> int:
    return sum(1 for n in notify.with_key("WATCHDOG", "1") if start <= n.at <= end)


def test_ready_watchdog_and_stopping_on_the_notify_socket(
    tmp_path: Path, notify: FakeNotifySocket
) -> None:
    with closed_after(BoxRig(tmp_path, "parking", device_id="park-sd")) as rig:
        agent = rig.start_agent(wait_ready=False, env=service_env(notify))
        ready = notify.wait_for("READY", "1")
        # READY=1 comes after the agent.ready line, and names the box and the version.
        assert agent.wait_event("agent.ready", timeout=5)["version"] == agent_version()
        assert ready.fields["STATUS"] == f"ready: parking park-sd, edge-agent {agent_version()}"
        extensions = notify.with_key("EXTEND_TIMEOUT_USEC")
        assert extensions
        assert extensions[0].at <= ready.at
        assert int(extensions[0].fields["EXTEND_TIMEOUT_USEC"]) >= 3 * WATCHDOG_USEC

        time.sleep(6 * BEAT_S)
        assert pings_between(notify, ready.at, time.monotonic()) >= 4

        # Frozen: not one ping while the process is stopped; pings again once it runs.
        agent.proc.send_signal(signal.SIGSTOP)
        frozen_at = time.monotonic()
        time.sleep(8 * BEAT_S)
        thawed_at = time.monotonic()
        agent.proc.send_signal(signal.SIGCONT)
        assert pings_between(notify, frozen_at + 0.05, thawed_at) == 0
        wait_until(
            lambda: pings_between(notify, thawed_at, time.monotonic()) >= 2,
            5.0,
            "the watchdog coming back after SIGCONT",
        )

        agent.proc.send_signal(signal.SIGTERM)
        assert agent.proc.wait(timeout=15) == 0
        stopping = notify.wait_for("STOPPING", "1", timeout=1)
        assert stopping.fields["STATUS"].startswith("stopping: parking park-sd")


def replace_hardware_path(rig: BoxRig, path: Path) -> str:
    """Points the agent's config at `path` instead of the simulator's pty; the pty's path."""
    section = "can" if rig.kind == "vehicle" else "serial"
    key = "channel" if rig.kind == "vehicle" else "port"
    config = tomllib.loads(rig.config_path.read_text())
    real: str = config[rig.kind][section][key]
    config[rig.kind][section][key] = str(path)
    flat = {f"{rig.kind}.{section}": config[rig.kind].pop(section), **config}
    write_toml(rig.config_path, flat)
    return real


@pytest.mark.parametrize(
    ("kind", "failure"), [("vehicle", "can.open_failed"), ("parking", "serial.open_failed")]
)
def test_missing_hardware_is_retried_with_backoff_until_it_appears(
    tmp_path: Path, notify: FakeNotifySocket, kind: str, failure: str
) -> None:
    with closed_after(BoxRig(tmp_path, kind)) as rig:
        adapter = tmp_path / "usb-adapter"  # not plugged in yet
        pty = replace_hardware_path(rig, adapter)
        agent = rig.start_agent(wait_ready=False, env=service_env(notify))
        first = agent.wait_event(failure, timeout=15)
        assert first["level"] == "error"
        assert str(adapter) in str(first)
        agent.wait_event(failure, timeout=15)
        agent.wait_event(failure, timeout=15)
        delays = [e["retry_in_s"] for e in agent.logged(failure)]
        assert len(delays) >= 3
        if kind == "parking":  # serial: 0.5, 1, 2 ... s
            assert delays[:3] == [0.5, 1.0, 2.0]
        assert agent.proc.poll() is None, "the agent exited instead of waiting for the hardware"
        # Starting, not ready: systemd is asked for more time at every beat, never told READY.
        assert notify.with_key("READY") == []
        assert len(notify.with_key("EXTEND_TIMEOUT_USEC")) >= 3

        adapter.symlink_to(pty)  # the installer plugs the adapter in
        agent.wait_event("agent.ready", timeout=40)
        notify.wait_for("READY", "1", timeout=5)
        if kind == "parking":
            reply = rig.command("lower", order_id="o-plugged")
        else:
            reply = rig.command("set_service", in_service=True, reason="plugged in")
        assert reply["status"] == "ok", reply


def test_a_store_that_cannot_be_written_is_refused_at_start(tmp_path: Path) -> None:
    # A file where the store's folder should be (say, an SD card not mounted yet): the agent
    # says so, naming the path, serves nothing and tries again (no crash loop under systemd);
    # a stop ends it with status 1, as a failed start.
    not_a_directory = tmp_path / "sd-card"
    not_a_directory.write_text("a file where the store's directory should be\n")
    config = tmp_path / "agent.toml"
    base = tomllib.loads((Path(__file__).parents[1] / "config/parking.example.toml").read_text())
    base["storage"]["path"] = str(not_a_directory / "edge.db")
    flat: dict[str, dict[str, Any]] = {"parking.serial": base["parking"].pop("serial"), **base}
    write_toml(config, flat)

    agent = AgentProcess(config, wait_ready=False)
    try:
        unwritable = agent.wait_logged("agent.store_unwritable", timeout=20)
        assert agent.proc.poll() is None  # not exited: it waits for its store
        assert agent.stop() == 1
    finally:
        agent.kill()
    assert unwritable["path"] == str(not_a_directory / "edge.db")
    assert unwritable["level"] == "error"
    assert unwritable["error"]
    assert agent.logged("agent.ready") == []


def test_outside_systemd_nothing_is_sent(tmp_path: Path) -> None:
    """No NOTIFY_SOCKET: the agent serves as before (the heartbeat task ends at once and is
    not taken for a failure)."""
    with closed_after(BoxRig(tmp_path, "parking", device_id="park-plain")) as rig:
        env = dict.fromkeys(("NOTIFY_SOCKET", "WATCHDOG_USEC"), "")
        agent = rig.start_agent(env=env)
        time.sleep(1.0)
        assert agent.proc.poll() is None
        assert rig.command("lower", order_id="o-plain")["status"] == "ok"
        assert agent.logged("agent.task_failed") == []

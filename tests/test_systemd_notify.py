"""sd_notify from the agent: the datagrams, the watchdog interval, and the watchdog going
quiet when the agent's own loop is blocked (the real Agent, in this process, on a real
parking simulator and mosquitto)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from notify_socket import FakeNotifySocket

from edge.agent import Agent
from edge.config import load_config
from edge.systemd import ServiceHeartbeat, SystemdNotifier, watchdog_interval_s
from testbed.rig import BoxRig, closed_after, wait_until_async


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[FakeNotifySocket]:
    sock = FakeNotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


def test_watchdog_interval_from_the_environment() -> None:
    me = str(os.getpid())
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": me}) == 30.0
    # For another process (e.g. a child that inherited the environment): not ours.
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    for bad in ({}, {"WATCHDOG_USEC": "0"}, {"WATCHDOG_USEC": "-5"}, {"WATCHDOG_USEC": "x"}):
        assert watchdog_interval_s(bad) is None


def test_datagrams_are_key_value_lines(notify: FakeNotifySocket) -> None:
    notifier = SystemdNotifier(str(notify.path))
    notifier.ready("ready: parking p-1, edge-agent 9")
    notifier.watchdog()
    notifier.extend_start_timeout(2.5)
    notifier.stopping("stopping")
    notify.wait_for("STOPPING", "1", timeout=5)
    assert [n.fields for n in notify.received] == [
        {"READY": "1", "STATUS": "ready: parking p-1, edge-agent 9"},
        {"WATCHDOG": "1"},
        {"EXTEND_TIMEOUT_USEC": "2500000"},
        {"STOPPING": "1", "STATUS": "stopping"},
    ]


def test_abstract_namespace_socket() -> None:
    name = f"edge-agent-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(b"\0" + name.encode())
        server.settimeout(5)
        assert SystemdNotifier(f"@{name}").send(READY="1")
        assert server.recv(100) == b"READY=1"


def test_a_missing_socket_is_logged_once_and_never_raises(tmp_path: Path) -> None:
    notifier = SystemdNotifier(str(tmp_path / "gone.sock"))
    with structlog.testing.capture_logs() as logs:
        assert notifier.send(WATCHDOG="1") is False
        assert notifier.send(WATCHDOG="1") is False
    assert [entry["event"] for entry in logs] == ["agent.notify_failed"]
    assert not SystemdNotifier(None).enabled
    assert SystemdNotifier(None).send(READY="1") is False


def test_no_watchdog_while_unhealthy(notify: FakeNotifySocket) -> None:
    agent = {"healthy": True}
    turned: list[float] = []

    async def scenario() -> None:
        ready = asyncio.Event()
        ready.set()
        notifier = SystemdNotifier(str(notify.path))
        heartbeat = ServiceHeartbeat(notifier, 0.3, lambda: agent["healthy"])
        task = asyncio.create_task(heartbeat.run(ready))
        await asyncio.sleep(0.5)
        agent["healthy"] = False  # e.g. the MQTT task died
        turned.append(time.monotonic())
        await asyncio.sleep(0.6)
        task.cancel()

    with structlog.testing.capture_logs() as logs:
        asyncio.run(scenario())
    pings = [n.at for n in notify.with_key("WATCHDOG", "1")]
    assert len([t for t in pings if t < turned[0]]) >= 3  # a beat every 0.1 s
    assert [t for t in pings if t > turned[0] + 0.05] == []
    assert [e["event"] for e in logs if e["event"] == "agent.watchdog_withheld"] == [
        "agent.watchdog_withheld"
    ]


def test_the_real_agent_stops_pinging_while_its_loop_is_blocked(
    tmp_path: Path, notify: FakeNotifySocket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify.path))
    monkeypatch.setenv("WATCHDOG_USEC", "600000")  # a beat every 0.2 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    block_s = 1.5
    marks: dict[str, float] = {}

    async def scenario(config_path: Path) -> bool:
        agent = Agent(load_config(config_path))
        stop = asyncio.Event()
        running = asyncio.create_task(agent.run(stop))

        def ready() -> bool:
            assert not running.done(), "the agent ended before it was ready"
            return bool(notify.with_key("READY", "1"))

        await wait_until_async(ready, 30.0, "READY=1 on the notify socket", poll_s=0.05)
        await asyncio.sleep(1.0)
        marks["blocked"] = time.monotonic()
        # E.g. a stalled SD card under a commit: the loop does nothing meanwhile.
        time.sleep(block_s)  # noqa: ASYNC251
        marks["unblocked"] = time.monotonic()
        await asyncio.sleep(1.0)
        stop.set()
        return await running

    rig = BoxRig(tmp_path, "parking", device_id="park-block")
    with closed_after(rig), structlog.testing.capture_logs() as logs:
        assert asyncio.run(scenario(rig.config_path)) is True

    pings = [n.at for n in notify.with_key("WATCHDOG", "1")]
    ready_at = notify.with_key("READY", "1")[0].at
    before = [t for t in pings if ready_at <= t < marks["blocked"]]
    during = [t for t in pings if marks["blocked"] + 0.05 < t < marks["unblocked"]]
    after = [t for t in pings if t >= marks["unblocked"]]
    assert len(before) >= 3
    assert during == []
    assert len(after) >= 3
    stalls = [e for e in logs if e["event"] == "agent.loop_stalled"]
    assert stalls
    assert stalls[0]["stalled_s"] >= block_s - 0.3
    assert notify.with_key("STOPPING", "1")

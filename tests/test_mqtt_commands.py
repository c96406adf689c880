"""Commands through MqttLink and a real mosquitto: persistent session, order, acknowledgement."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from mqtt_agent import make_link, running

from edge.store import Store
from testbed.broker import CloudClient, Mosquitto
from testbed.waiting import wait_until, wait_until_async

DEVICE = "car-0001"
COMMANDS = f"fleet/v1/{DEVICE}/commands"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "edge.db", DEVICE)


def command(n: int) -> bytes:
    return b'{"id": "cmd-%d"}' % n


def acked(broker: Mosquitto) -> int:
    """PUBACKs the broker has had from the link (its log says so as they arrive)."""
    return broker.log().count("Received PUBACK from car-0001")


def redelivered(broker: Mosquitto) -> bool:
    """The broker sent a command to the link again, marked DUP."""
    return bool(
        re.search(r"Sending PUBLISH to car-0001 \(d1, q1, r0, m\d+, '[^']+/commands'", broker.log())
    )


class Recorder:
    """A command handler that notes what it was given, start and end."""

    def __init__(self) -> None:
        self.calls: list[bytes] = []
        self.trace: list[tuple[str, bytes]] = []

    async def __call__(self, payload: bytes) -> None:
        self.calls.append(payload)
        self.trace.append(("start", payload))
        await asyncio.sleep(0.03)
        self.trace.append(("end", payload))


def test_commands_sent_while_offline_arrive_after_reconnect_in_order(
    mosquitto: Mosquitto, cloud: CloudClient, store: Store
) -> None:
    async def first_run() -> None:
        async with running(make_link(mosquitto.url, store)):
            pass  # leaves a persistent session subscribed to commands

    asyncio.run(first_run())
    for n in range(3):
        cloud.publish(COMMANDS, command(n))

    handler = Recorder()

    async def second_run() -> None:
        async with running(make_link(mosquitto.url, store, on_command=handler)):
            await wait_until_async(lambda: len(handler.calls) >= 3, 5, "three commands")
            await asyncio.sleep(0.1)

    asyncio.run(second_run())
    assert handler.calls == [command(0), command(1), command(2)]


def test_commands_are_handled_one_at_a_time_in_arrival_order(
    mosquitto: Mosquitto, cloud: CloudClient, store: Store
) -> None:
    handler = Recorder()

    async def scenario() -> None:
        async with running(make_link(mosquitto.url, store, on_command=handler)):
            for n in range(5):
                await asyncio.to_thread(cloud.publish, COMMANDS, command(n))
            await wait_until_async(lambda: len(handler.trace) == 10, 5, "five commands handled")

    asyncio.run(scenario())
    expected = [(step, command(n)) for n in range(5) for step in ("start", "end")]
    assert handler.trace == expected


def test_a_command_whose_handler_raises_is_still_acknowledged(
    mosquitto: Mosquitto, cloud: CloudClient, store: Store
) -> None:
    failures: list[bytes] = []

    async def failing(payload: bytes) -> None:
        failures.append(payload)
        raise RuntimeError("handler bug")

    async def first_run() -> None:
        async with running(make_link(mosquitto.url, store, on_command=failing)):
            await asyncio.to_thread(cloud.publish, COMMANDS, command(1))
            await wait_until_async(lambda: failures == [command(1)], 5, "handler called")
            await wait_until_async(lambda: acked(mosquitto) == 1, 5, "the PUBACK at the broker")

    asyncio.run(first_run())
    cloud.publish(COMMANDS, command(2))  # queued behind command 1, had that not been acked
    handler = Recorder()

    async def second_run() -> None:
        async with running(make_link(mosquitto.url, store, on_command=handler)):
            await wait_until_async(lambda: len(handler.trace) == 2, 5, "second command handled")

    asyncio.run(second_run())
    assert failures == [command(1)]
    assert handler.calls == [command(2)]


def test_a_command_redelivered_after_a_reconnect_mid_handler_runs_once(
    mosquitto: Mosquitto, cloud: CloudClient, store: Store
) -> None:
    calls: list[bytes] = []
    release = asyncio.Event()

    async def slow(payload: bytes) -> None:
        calls.append(payload)
        await release.wait()

    async def first_run() -> None:
        link = make_link(mosquitto.url, store, on_command=slow)
        async with running(link):
            await asyncio.to_thread(cloud.publish, COMMANDS, command(1))
            await wait_until_async(lambda: calls == [command(1)], 5, "handler called")
            # The broker goes away before the PUBACK, and sends the command again (DUP).
            await asyncio.to_thread(mosquitto.restart)
            await wait_until_async(lambda: link.counters.reconnects == 1, 5, "reconnected")
            await wait_until_async(lambda: redelivered(mosquitto), 5, "the command sent again")
            release.set()
            await wait_until_async(lambda: acked(mosquitto) >= 1, 5, "the PUBACK at the broker")

    asyncio.run(first_run())
    assert calls == [command(1)]
    assert redelivered(mosquitto)

    wait_until(cloud.client.is_connected, 10, "the cloud back after the broker's restart")
    cloud.publish(COMMANDS, command(2))
    handler = Recorder()

    async def second_run() -> None:
        async with running(make_link(mosquitto.url, store, on_command=handler)):
            await wait_until_async(lambda: len(handler.trace) == 2, 5, "second command handled")

    asyncio.run(second_run())
    assert handler.calls == [command(2)]  # command 1 was acknowledged, once handled

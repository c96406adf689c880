"""MQTT 5 and 3.1.1 against a real mosquitto: the session kept across restarts, reason codes,
a PUBACK that refuses (ACL), and the probe finding a one-way link (an ACL reload that takes
the box's read right away)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_agent import add_records, make_link, running

from edge.mqtt.events import LinkOneWay, OutboxRefused
from edge.store import Store
from edge.timefmt import parse_rfc3339
from edge.wire.fields import EventBody
from sim.backend import BackendKeys
from testbed.broker import CloudClient, Mosquitto
from testbed.processes import REPO
from testbed.waiting import wait_until_async

DEVICE = "car-0001"
COMMANDS = f"fleet/v1/{DEVICE}/commands"
# Anonymous clients (the box) get their own topics by client id; the cloud logs in by name.
ACL = """user backend
topic readwrite fleet/v1/#

pattern readwrite fleet/v1/%c/#
"""
READ_TAKEN_AWAY = ACL.replace("pattern readwrite", "pattern write")


@pytest.fixture
def acl_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mosquitto", acl=ACL)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def backend(acl_broker: Mosquitto) -> Iterator[CloudClient]:
    client = CloudClient(acl_broker, username="backend")
    try:
        yield client
    finally:
        client.close()


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_commands_queued_while_the_box_was_away_arrive_after_its_restart(
    protocol: str, mosquitto: Mosquitto, cloud: CloudClient, tmp_path: Path
) -> None:
    store = Store(tmp_path / "edge.db", DEVICE)
    received: list[bytes] = []

    async def on_command(payload: bytes) -> None:
        received.append(payload)

    async def run_once(until: int) -> None:
        link = make_link(mosquitto.url, store, on_command=on_command, protocol=protocol)
        async with running(link):
            await wait_until_async(lambda: len(received) >= until, 10, f"{until} commands")

    asyncio.run(run_once(0))
    for n in range(3):  # the box is away: its session holds them
        cloud.publish(COMMANDS, b"%d" % n)
    mosquitto.restart()  # and the broker's persistence keeps the session across its restart
    asyncio.run(run_once(3))
    assert received == [b"0", b"1", b"2"]
    log = mosquitto.log()
    assert f"as {DEVICE} (p{'5' if protocol == '5' else '2'}, c0," in log  # clean start false


def test_the_mqtt5_session_lives_as_long_as_session_expiry_s_says(
    mosquitto: Mosquitto, cloud: CloudClient, tmp_path: Path
) -> None:
    # session_expiry_s = 0: the broker ends the session with the connection, so what is sent
    # while the box is away is not kept for it (with the default, the test above gets it).
    store = Store(tmp_path / "edge.db", DEVICE)
    received: list[bytes] = []

    async def on_command(payload: bytes) -> None:
        received.append(payload)

    async def run_once(then: bytes | None) -> None:
        link = make_link(mosquitto.url, store, on_command=on_command, session_expiry_s=0)
        async with running(link):
            if then is not None:
                await asyncio.to_thread(cloud.publish, COMMANDS, then)
                await wait_until_async(lambda: then in received, 10, "the command sent now")

    asyncio.run(run_once(None))
    cloud.publish(COMMANDS, b"while away")
    asyncio.run(run_once(b"now"))
    assert received == [b"now"]


def test_a_puback_that_refuses_keeps_the_record_in_the_outbox_until_it_is_allowed(
    acl_broker: Mosquitto, backend: CloudClient, tmp_path: Path
) -> None:
    # The box's client id is not its device id: the ACL gives it another box's topics.
    store = Store(tmp_path / "edge.db", DEVICE)
    add_records(store, 2)
    events: list[EventBody] = []

    async def scenario() -> None:
        link = make_link(
            acl_broker.url, store, client_id="car-0002", on_event=events.append, held_retry_s=0.3
        )
        async with running(link, connect_within_s=None):
            await wait_until_async(lambda: link.counters.refused >= 2, 10, "two refusals")
            assert store.outbox_depth() == 2
            refused = [e for e in events if isinstance(e, OutboxRefused)]
            assert {e.reason for e in refused} == {"Not authorized"}
            assert {e.reason_code for e in refused} == {0x87}
            # Allowed again: the held records go out at the next retry.
            acl_broker.set_acl(ACL + "\npattern readwrite fleet/v1/car-0001/#\n")
            acl_broker.reload()
            await wait_until_async(lambda: store.outbox_depth() == 0, 10, "outbox empty")

    asyncio.run(scenario())
    seqs = sorted({m.json()["seq"] for m in backend.messages if m.suffix == "records"})
    assert seqs == [1, 2]
    assert "Denied PUBLISH from car-0002" in acl_broker.log()


def test_a_link_that_stops_delivering_to_the_box_is_found_one_way_and_recovers(
    acl_broker: Mosquitto, backend: CloudClient, tmp_path: Path
) -> None:
    store = Store(tmp_path / "edge.db", DEVICE)
    events: list[EventBody] = []
    commands: list[bytes] = []

    async def on_command(payload: bytes) -> None:
        commands.append(payload)

    async def scenario() -> None:
        link = make_link(
            acl_broker.url,
            store,
            on_command=on_command,
            on_event=events.append,
            probe_interval_s=0.3,
            probe_timeout_s=1.0,
        )
        async with running(link):
            await wait_until_async(lambda: link.last_probe_rtt_ms is not None, 10, "a probe back")
            acl_broker.set_acl(READ_TAKEN_AWAY)
            acl_broker.reload()
            await wait_until_async(
                lambda: any(isinstance(e, LinkOneWay) for e in events), 15, "link_one_way"
            )
            connects = link.counters.connects
            await wait_until_async(lambda: link.counters.connects > connects, 10, "reconnected")
            # Publishing still works meanwhile: a record reaches the backend.
            add_records(store, 1)
            link.outbox_changed()
            await wait_until_async(lambda: store.outbox_depth() == 0, 10, "record delivered")
            acl_broker.set_acl(ACL)
            acl_broker.reload()
            sent = link.probe.sent
            await wait_until_async(
                lambda: link.probe.sent > sent + 1 and link.last_probe_rtt_ms is not None,
                20,
                "probes coming back",
            )
            await asyncio.to_thread(backend.publish, COMMANDS, b"after")
            await wait_until_async(lambda: b"after" in commands, 20, "commands again")

    asyncio.run(scenario())
    lost = [e for e in events if isinstance(e, LinkOneWay)]
    assert lost
    assert lost[0].waited_s >= 1.0


def test_a_command_past_its_message_expiry_is_not_delivered_to_a_box_that_was_away(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    # `python -m sim.backend send` sets the MQTT 5 Message Expiry to the command's TTL by
    # default; a broker drops a command that waited longer than that for the box.
    key = tmp_path / "backend.key"
    BackendKeys.generate().save(key)
    store = Store(tmp_path / "edge.db", DEVICE)
    received: list[dict[str, object]] = []

    async def on_command(payload: bytes) -> None:
        received.append(json.loads(payload))

    async def run_once(until: int) -> None:
        link = make_link(mosquitto.url, store, on_command=on_command, protocol="5")
        async with running(link):
            await wait_until_async(lambda: len(received) >= until, 10, f"{until} commands")

    asyncio.run(run_once(0))  # the session exists; the box goes away

    def send(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "sim.backend", "send", "--url", mosquitto.url,
             "--key", str(key), "--device", DEVICE, "--type", "set_service",
             "--args", '{"in_service": true, "reason": ""}', "--timeout", "1", *args],
            cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 1, done.stderr  # published; no box answered
        return done.stderr

    send("--message-expiry", "1")
    time.sleep(2.5)  # longer than its Message Expiry: the time the broker must hold it
    send("--ttl", "600")
    asyncio.run(run_once(1))
    assert len(received) == 1
    assert received[0]["type"] == "set_service"
    expires = parse_rfc3339(str(received[0]["expires_at"]))
    issued = parse_rfc3339(str(received[0]["issued_at"]))
    assert (expires - issued).total_seconds() == 600  # the one sent with the long TTL

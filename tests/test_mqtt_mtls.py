"""One identity per box: the reference broker set-up of deploy/mosquitto/ (TLS,
require_certificate, use_identity_as_username, the ACL confining each box to its own topics),
its certificates made by deploy/mosquitto/make_certs.py."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_agent import add_records, make_link, running

from edge.mqtt.events import LinkOneWay, LinkRefused, OutboxRefused
from edge.mqtt.link import MqttSetupError
from edge.store import Store
from edge.wire.fields import EventBody
from testbed.broker import CloudClient, Mosquitto, TlsFiles
from testbed.fleet_broker import make_fleet_certs, reference_broker
from testbed.waiting import wait_until_async

BOX = "car-0001"
OTHER = "car-0002"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_fleet_certs(tmp_path_factory.mktemp("fleet-certs"), [BOX, OTHER])


@pytest.fixture
def broker(tmp_path: Path, certs: TlsFiles) -> Iterator[Mosquitto]:
    mosquitto = reference_broker(tmp_path / "mosquitto", certs)
    mosquitto.start()
    try:
        yield mosquitto
    finally:
        mosquitto.stop()


@pytest.fixture
def backend(broker: Mosquitto, certs: TlsFiles) -> Iterator[CloudClient]:
    folder = certs.ca_file.parent
    client = CloudClient(broker, client_cert=(folder / "backend.pem", folder / "backend.key"))
    try:
        yield client
    finally:
        client.close()


def box_files(certs: TlsFiles, name: str) -> dict[str, Path]:
    folder = certs.ca_file.parent
    return {
        "ca_file": certs.ca_file,
        "cert_file": folder / f"{name}.pem",
        "key_file": folder / f"{name}.key",
    }


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_a_box_with_its_own_certificate_publishes_and_gets_its_commands(
    protocol: str, broker: Mosquitto, backend: CloudClient, certs: TlsFiles, tmp_path: Path
) -> None:
    store = Store(tmp_path / "edge.db", BOX)
    add_records(store, 3)
    commands: list[bytes] = []

    async def on_command(payload: bytes) -> None:
        commands.append(payload)

    async def scenario() -> None:
        link = make_link(
            broker.url,
            store,
            device_id=BOX,
            on_command=on_command,
            protocol=protocol,
            **box_files(certs, BOX),
        )
        async with running(link):
            await wait_until_async(lambda: store.outbox_depth() == 0, 10, "outbox empty")
            await asyncio.to_thread(backend.publish, f"fleet/v1/{BOX}/commands", b"c1")
            await wait_until_async(lambda: commands == [b"c1"], 10, "the command")

    asyncio.run(scenario())
    records = {m.json()["seq"] for m in backend.messages if m.topic == f"fleet/v1/{BOX}/records"}
    assert records == {1, 2, 3}


def test_a_box_cannot_publish_on_or_subscribe_to_another_box_s_topics(
    broker: Mosquitto, backend: CloudClient, certs: TlsFiles, tmp_path: Path
) -> None:
    # The certificate of car-0002, the device id of car-0001: every topic is another box's.
    store = Store(tmp_path / "edge.db", BOX)
    add_records(store, 1)
    events: list[EventBody] = []

    commands: list[bytes] = []

    async def on_command(payload: bytes) -> None:
        commands.append(payload)

    async def scenario() -> None:
        link = make_link(
            broker.url,
            store,
            device_id=BOX,
            on_command=on_command,
            on_event=events.append,
            probe_interval_s=0.3,
            probe_timeout_s=1.0,
            **box_files(certs, OTHER),
        )
        async with running(link, connect_within_s=None):
            await wait_until_async(lambda: link.counters.refused >= 1, 10, "the PUBACK refused")
            # mosquitto 2.0 grants the SUBSCRIBE but delivers nothing the ACL does not allow:
            # the backend's command never arrives, and the probe finds the link one way.
            await asyncio.to_thread(backend.publish, f"fleet/v1/{BOX}/commands", b"c1")
            await wait_until_async(
                lambda: any(isinstance(e, LinkOneWay) for e in events), 10, "link_one_way"
            )

    asyncio.run(scenario())
    assert commands == []
    assert store.outbox_depth() == 1  # kept, to be sent once the broker allows it
    refused = [e for e in events if isinstance(e, OutboxRefused)]
    assert refused[0].reason == "Not authorized"
    assert refused[0].reason_code == 0x87
    log = broker.log()
    assert f"Denied PUBLISH from {BOX}" in log  # the client id; the username is car-0002
    assert not [m for m in backend.messages if m.suffix == "records"]


def test_a_certificate_from_another_ca_is_refused(
    broker: Mosquitto, certs: TlsFiles, tmp_path: Path
) -> None:
    stranger = make_fleet_certs(tmp_path / "stranger-ca", [BOX])
    files = {**box_files(stranger, BOX), "ca_file": certs.ca_file}
    store = Store(tmp_path / "edge.db", BOX)
    events: list[EventBody] = []

    async def scenario() -> None:
        link = make_link(broker.url, store, device_id=BOX, on_event=events.append, **files)
        async with running(link, connect_within_s=None):
            await wait_until_async(lambda: link.counters.connect_failures >= 2, 10, "refused")
            assert link.counters.connects == 0

    asyncio.run(scenario())
    assert any(isinstance(e, LinkRefused) for e in events)
    assert "certificate" in broker.log().lower() or "OpenSSL Error" in broker.log()


def test_a_key_file_readable_by_others_is_refused_at_start(certs: TlsFiles, tmp_path: Path) -> None:
    files = box_files(certs, BOX)
    loose = tmp_path / "loose.key"
    loose.write_bytes(files["key_file"].read_bytes())
    os.chmod(loose, 0o644)
    store = Store(tmp_path / "edge.db", BOX)
    with pytest.raises(MqttSetupError, match=r"mqtt.key_file: .* mode 0644"):
        make_link("mqtts://127.0.0.1:8883", store, **{**files, "key_file": loose})

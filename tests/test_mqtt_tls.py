"""mqtts:// against a mosquitto TLS listener with a CA made for the test."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from mqtt_agent import add_records, make_link, running

from edge.mqtt.link import MqttSetupError
from edge.store import Store
from testbed.broker import CloudClient, Mosquitto, TlsFiles, make_tls_files
from testbed.waiting import wait_until_async

DEVICE = "car-0001"


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_broker(tmp_path: Path, tls_files: TlsFiles) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mosquitto", tls=tls_files)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def test_link_publishes_over_tls_with_the_configured_ca(
    tls_broker: Mosquitto, tls_files: TlsFiles, tmp_path: Path
) -> None:
    assert tls_broker.url.startswith("mqtts://127.0.0.1:")
    cloud = CloudClient(tls_broker)
    store = Store(tmp_path / "edge.db", DEVICE)
    add_records(store, 3)

    commands: list[bytes] = []

    async def on_command(payload: bytes) -> None:
        commands.append(payload)

    async def scenario() -> None:
        link = make_link(tls_broker.url, store, ca_file=tls_files.ca_file, on_command=on_command)
        async with running(link):
            await wait_until_async(lambda: store.outbox_depth() == 0, 5, "outbox empty")
            await cloud.wait_until_async(lambda ms: sum(m.suffix == "records" for m in ms) >= 3)
            for n in range(5):
                cloud.client.publish(f"fleet/v1/{DEVICE}/commands", b"%d" % n, qos=1)
            await wait_until_async(lambda: len(commands) == 5, 5, "five commands over TLS")

    try:
        asyncio.run(scenario())
    finally:
        cloud.close()
    assert [m.json()["seq"] for m in cloud.messages if m.suffix == "records"] == [1, 2, 3]
    assert commands == [b"0", b"1", b"2", b"3", b"4"]


def test_an_untrusted_broker_certificate_is_logged_and_retried_never_raised(
    tls_broker: Mosquitto, tmp_path: Path
) -> None:
    other_ca = make_tls_files(tmp_path / "other").ca_file
    store = Store(tmp_path / "edge.db", DEVICE)

    async def scenario() -> None:
        link = make_link(tls_broker.url, store, ca_file=other_ca)
        async with running(link, connect_within_s=None):
            await wait_until_async(
                lambda: link.counters.connect_failures >= 3, 5, "three failed attempts"
            )
            assert not link.connected

    asyncio.run(scenario())


def test_an_unreadable_ca_file_is_a_setup_error(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db", DEVICE)
    with pytest.raises(MqttSetupError, match="TLS files"):
        make_link("mqtts://127.0.0.1:8883", store, ca_file=tmp_path / "missing.pem")

"""MqttLink against a real mosquitto: status, telemetry, and the durable outbox."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from mqtt_agent import VERSION, add_records, make_link, running

from edge.store import Store
from testbed.broker import CloudClient, Mosquitto, Received, retained
from testbed.waiting import wait_until_async

DEVICE = "car-0001"
STATUS = f"fleet/v1/{DEVICE}/status"
RFC3339_MS_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "edge.db", DEVICE)


def record_seqs(messages: list[Received]) -> list[int]:
    """The seq of every record received, duplicates included, in arrival order."""
    return [m.json()["seq"] for m in messages if m.suffix == "records"]


def first_arrivals(seqs: list[int]) -> list[int]:
    seen: set[int] = set()
    return [s for s in seqs if not (s in seen or seen.add(s))]  # type: ignore[func-returns-value]


def test_status_is_retained_online_then_offline_after_clean_stop(
    mosquitto: Mosquitto, cloud: CloudClient, store: Store
) -> None:
    async def scenario() -> None:
        link = make_link(mosquitto.url, store)
        async with running(link):
            live = await cloud.wait_for_async(lambda m: m.topic == STATUS)
            assert live.qos == 1
            kept = await asyncio.to_thread(retained, mosquitto, STATUS)
            assert kept == live.json()
            assert set(kept) == {"online", "kind", "version", "ts"}
            assert kept["online"] is True
            assert kept["kind"] == "vehicle"
            assert kept["version"] == VERSION
            assert RFC3339_MS_Z.fullmatch(kept["ts"])

            link.publish_telemetry({"ts": "2026-11-23T18:14:27.123Z", "fuel_pct": 40})
            telemetry = await cloud.wait_for_async(lambda m: m.suffix == "telemetry")
            assert telemetry.json() == {"ts": "2026-11-23T18:14:27.123Z", "fuel_pct": 40}
            assert telemetry.qos == 0
            assert link.counters.telemetry_dropped == 0

    asyncio.run(scenario())
    assert retained(mosquitto, STATUS) == {"online": False}
    assert "Client car-0001 disconnected." in mosquitto.log()  # a clean DISCONNECT, not a will


def test_records_committed_before_connect_arrive_in_order_and_leave_the_outbox(
    mosquitto: Mosquitto, cloud: CloudClient, store: Store
) -> None:
    add_records(store, 40)

    async def scenario() -> None:
        link = make_link(mosquitto.url, store, outbox_window=8)
        async with running(link):
            await cloud.wait_until_async(lambda ms: len(record_seqs(ms)) >= 40)
            await wait_until_async(lambda: store.outbox_depth() == 0, 5, "outbox empty")
            assert link.counters.published == 40
            assert link.counters.acked == 40
            assert link.last_sync is not None

    asyncio.run(scenario())
    assert record_seqs(cloud.messages) == list(range(1, 41))
    records = [m.json() for m in cloud.messages if m.suffix == "records"]
    assert {r["device_id"] for r in records} == {DEVICE}
    assert len({r["record_id"] for r in records}) == 40


def test_an_item_stays_in_the_outbox_until_its_puback(
    mosquitto: Mosquitto, cloud: CloudClient, store: Store
) -> None:
    async def scenario() -> None:
        link = make_link(mosquitto.url, store)
        async with running(link):
            mosquitto.pause()  # the connection stays up, but nothing is acknowledged
            try:
                add_records(store, 5)
                link.outbox_changed()
                await wait_until_async(
                    lambda: link.counters.published == 5, 5, "records handed out"
                )
                await asyncio.sleep(0.3)
                assert store.outbox_depth() == 5
                assert link.counters.acked == 0
                assert link.last_sync is None
            finally:
                mosquitto.resume()
            await wait_until_async(lambda: store.outbox_depth() == 0, 5, "outbox empty")
            assert link.counters.acked == 5
            await cloud.wait_until_async(lambda ms: len(record_seqs(ms)) >= 5)

    asyncio.run(scenario())
    assert record_seqs(cloud.messages) == [1, 2, 3, 4, 5]


def test_outbox_ids_stay_valid_after_the_outbox_was_emptied(
    mosquitto: Mosquitto, cloud: CloudClient, store: Store
) -> None:
    async def scenario() -> None:
        link = make_link(mosquitto.url, store)
        async with running(link):
            for _ in range(2):
                add_records(store, 3)
                link.outbox_changed()
                await wait_until_async(lambda: store.outbox_depth() == 0, 5, "outbox empty")
            await cloud.wait_until_async(lambda ms: len(record_seqs(ms)) >= 6)

    asyncio.run(scenario())
    assert record_seqs(cloud.messages) == [1, 2, 3, 4, 5, 6]


def test_broker_restart_mid_stream_loses_nothing_and_keeps_order(
    mosquitto: Mosquitto, cloud: CloudClient, store: Store
) -> None:
    total = 150

    async def scenario() -> None:
        link = make_link(mosquitto.url, store)
        async with running(link):
            for n in range(1, total + 1):
                add_records(store, 1)
                link.outbox_changed()
                if n == 50:
                    await asyncio.to_thread(mosquitto.stop)
                if n == 100:
                    await asyncio.to_thread(mosquitto.start)
                await asyncio.sleep(0.004)
            await cloud.wait_until_async(
                lambda ms: set(record_seqs(ms)) >= set(range(1, total + 1)), 20
            )
            await wait_until_async(lambda: store.outbox_depth() == 0, 5, "outbox empty")
            assert link.counters.reconnects >= 1
            assert link.counters.acked == total

    asyncio.run(scenario())
    seqs = record_seqs(cloud.messages)
    assert first_arrivals(seqs) == list(range(1, total + 1))
    # Some records were published twice (resent with DUP after the restart), none lost.
    assert set(seqs) == set(range(1, total + 1))
    body_by_seq: dict[int, bytes] = {}
    for message in cloud.messages:
        if message.suffix == "records":
            seq = json.loads(message.payload)["seq"]
            assert body_by_seq.setdefault(seq, message.payload) == message.payload


def test_items_in_flight_when_the_broker_dies_are_resent_by_the_client_not_republished(
    mosquitto: Mosquitto, cloud: CloudClient, store: Store
) -> None:
    async def scenario() -> None:
        link = make_link(mosquitto.url, store)
        async with running(link):
            # A clean restart writes the cloud's session to disk, so it survives the kill.
            await asyncio.to_thread(mosquitto.restart)
            await wait_until_async(lambda: link.counters.connects == 2, 5, "reconnected")
            mosquitto.pause()
            add_records(store, 5)
            link.outbox_changed()
            await wait_until_async(lambda: link.counters.published == 5, 5, "records handed out")
            mosquitto.kill()  # the PUBLISHes die unread in the stopped broker's socket
            await asyncio.to_thread(mosquitto.start)
            await wait_until_async(lambda: store.outbox_depth() == 0, 10, "outbox empty")
            assert link.counters.published == 5  # handed out once, resent by paho
            await cloud.wait_until_async(lambda ms: len(record_seqs(ms)) >= 5)

    asyncio.run(scenario())
    assert record_seqs(cloud.messages) == [1, 2, 3, 4, 5]
    assert "Received PUBLISH from car-0001 (d1, q1, r0" in mosquitto.log()


def test_cancelling_run_drops_the_connection_and_the_will_marks_the_box_offline(
    mosquitto: Mosquitto, cloud: CloudClient, store: Store
) -> None:
    async def scenario() -> None:
        link = make_link(mosquitto.url, store)
        task = asyncio.create_task(link.run())
        await wait_until_async(lambda: link.subscribed, 5, "connected")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not link.connected

    asyncio.run(scenario())
    cloud.wait_for(lambda m: m.topic == STATUS and m.json() == {"online": False})
    assert "Client car-0001 closed its connection." in mosquitto.log()

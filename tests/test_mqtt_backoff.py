"""Reconnecting: backoff bounds, and what the link does while there is no broker."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mqtt_agent import make_link, running

from edge.mqtt.backoff import Backoff
from edge.store import Store
from testbed.broker import CloudClient, Mosquitto
from testbed.waiting import wait_until_async

DEVICE = "car-0001"


@given(
    min_s=st.floats(min_value=0.001, max_value=10),
    factor=st.floats(min_value=1, max_value=1000),
    seed=st.integers(min_value=0, max_value=2**32),
    attempts=st.integers(min_value=1, max_value=80),
)
def test_backoff_delays_stay_within_bounds_and_the_doubling_ceiling(
    min_s: float, factor: float, seed: int, attempts: int
) -> None:
    max_s = min_s * factor
    backoff = Backoff(min_s, max_s, random.Random(seed))
    for n in range(attempts):
        delay = backoff.next_delay()
        assert min_s <= delay <= max_s
        assert delay <= min_s * 2**n * (1 + 1e-9)
    backoff.reset()
    assert backoff.next_delay() == pytest.approx(min_s)


def test_backoff_refuses_bounds_the_wrong_way_round() -> None:
    with pytest.raises(ValueError, match="min_s <= max_s"):
        Backoff(2.0, 1.0)


def test_without_a_broker_run_keeps_retrying_drops_telemetry_and_queues_events(
    tmp_path: Path,
) -> None:
    broker = Mosquitto(tmp_path / "mosquitto")
    with broker:  # leaves the cloud's subscription in the broker's persistence file
        CloudClient(broker).close()
    store = Store(tmp_path / "edge.db", DEVICE)
    window_s = 1.5

    async def scenario() -> None:
        link = make_link(
            broker.url, store, offline_events_max=3, reconnect_min_s=0.05, reconnect_max_s=0.2
        )
        async with running(link, connect_within_s=None):
            await asyncio.sleep(window_s)
            # Waits of 0.05-0.2 s, the first ones shorter: 7 to 30 attempts fit in 1.5 s.
            assert 5 <= link.counters.connect_failures <= 32
            assert not link.connected

            for n in range(2):
                link.publish_telemetry({"n": n})
            assert link.counters.telemetry_dropped == 2
            for n in range(5):
                link.publish_event({"type": "test", "n": n})
            assert link.counters.events_dropped == 2  # the queue keeps the newest 3

            await asyncio.to_thread(broker.start)
            cloud = await asyncio.to_thread(CloudClient, broker)
            try:
                await wait_until_async(lambda: link.connected, 5, "connected once the broker is up")
                await cloud.wait_until_async(lambda ms: sum(m.suffix == "events" for m in ms) >= 3)
                assert link.counters.connects == 1
            finally:
                await asyncio.to_thread(cloud.close)
        events = [m.json()["n"] for m in cloud.messages if m.suffix == "events"]
        assert events == [2, 3, 4]
        assert all(m.suffix != "telemetry" for m in cloud.messages)

    try:
        asyncio.run(scenario())
    finally:
        broker.stop()


def test_a_refused_connect_is_retried_never_raised(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db", DEVICE)
    with Mosquitto(tmp_path / "mosquitto", anonymous=False) as broker:

        async def scenario() -> None:
            link = make_link(broker.url, store)
            async with running(link, connect_within_s=None):
                await wait_until_async(
                    lambda: link.counters.connect_failures >= 3, 5, "three refusals"
                )
                assert link.counters.connects == 0

        asyncio.run(scenario())
        assert "not authorised" in broker.log()

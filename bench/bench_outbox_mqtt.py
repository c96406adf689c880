"""Outbox + MqttLink against raw paho QoS 1, same payloads, same local mosquitto, one run:
MQTT 5 (the link's default) and 3.1.1 over plain TCP, and MQTT 5 over TLS, each against raw
paho speaking the same protocol over the same transport.

    python bench/bench_outbox_mqtt.py [N]

The link's figure is the whole durable path: read from the store in id order, publish QoS 1
with a bounded window, and delete each item from the store (an fsync'd SQLite commit) on its
PUBACK. The raw figure is paho alone: N publishes from its own network thread, all PUBACKs
in. Both start connected; timing runs from the first publish to the last PUBACK (for the
link: to the last delete).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]

import paho.mqtt.client as mqtt  # noqa: E402
import structlog  # noqa: E402
from mqtt_agent import config  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from edge.mqtt.link import OUTBOX_WINDOW, MqttLink  # noqa: E402
from edge.store import OutboxItem, Store  # noqa: E402
from edge.timefmt import utc_now_rfc3339  # noqa: E402
from testbed.broker import Mosquitto, make_tls_files  # noqa: E402
from testbed.waiting import wait_until_async as until  # noqa: E402

DEVICE = "bench-0001"


class TimedStore:
    """The link's view of the store, timing the deletes (one fsync'd commit per batch)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.ack_s = 0.0

    def outbox_pending(self, after_id: int = 0, limit: int = 100) -> list[OutboxItem]:
        return self.store.outbox_pending(after_id, limit)

    def outbox_ack_many(self, item_ids: Sequence[int], synced_at: str | None = None) -> None:
        start = time.perf_counter()
        self.store.outbox_ack_many(item_ids, synced_at)
        self.ack_s += time.perf_counter() - start


def fill_store(store: Store, count: int) -> list[bytes]:
    with store.transaction() as tx:
        for n in range(count):
            tx.add_record("bench", {"n": n}, ts=utc_now_rfc3339(), clock_synced=True)
    return [item.payload for item in store.outbox_pending(limit=count)]


async def _through_link(
    broker: Mosquitto, store: TimedStore, count: int, window: int, protocol: str
) -> float:
    async def no_commands(payload: bytes) -> None:
        return None

    tls = {} if broker.tls is None else {"ca_file": broker.tls.ca_file}
    link = MqttLink(
        config(broker.url, protocol=protocol, **tls),
        device_id=DEVICE,
        kind="vehicle",
        version="bench",
        store=store,
        on_command=no_commands,
        outbox_window=window,
    )
    # Hold the outbox back until connected, so connecting is not timed.
    task = asyncio.create_task(link.run())
    await until(lambda: link.subscribed, 10, "connected")
    fill_store(store.store, count)
    start = time.perf_counter()
    link.outbox_changed()
    await until(lambda: link.counters.acked == count, 120, "all acknowledged")
    elapsed = time.perf_counter() - start
    await link.stop()
    await task
    assert store.store.outbox_depth() == 0
    return elapsed


def through_link(
    broker: Mosquitto, workdir: Path, count: int, window: int, protocol: str = "5"
) -> tuple[float, float]:
    """Seconds for `count` records through the link, and of those, seconds in deletes."""
    store = TimedStore(Store(workdir / f"link-{protocol}-{broker.port}.db", DEVICE))
    try:
        elapsed = asyncio.run(_through_link(broker, store, count, window, protocol))
        return elapsed, store.ack_s
    finally:
        store.store.close()


def raw_paho(broker: Mosquitto, payloads: list[bytes], protocol: str = "5") -> float:
    if protocol == "5":
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="bench-raw", protocol=mqtt.MQTTv5
        )
    else:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-raw", clean_session=True)
    if broker.tls is not None:
        client.tls_set(ca_certs=str(broker.tls.ca_file))
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        if not connected.wait(10):
            raise TimeoutError("raw paho client did not connect")
        topic = f"fleet/v1/{DEVICE}/records"
        start = time.perf_counter()
        infos = [client.publish(topic, payload, qos=1) for payload in payloads]
        for info in infos:
            info.wait_for_publish(30)
        return time.perf_counter() - start
    finally:
        client.disconnect()
        client.loop_stop()


def compare(
    broker: Mosquitto, workdir: Path, payloads: list[bytes], protocol: str, label: str
) -> float:
    """Prints raw paho and the link on `broker` with `protocol`; the ratio link / raw."""
    count = len(payloads)
    raw = raw_paho(broker, payloads, protocol)
    linked, deletes = through_link(broker, workdir, count, OUTBOX_WINDOW, protocol)
    print(f"{label}")
    print(f"  raw paho QoS 1 (20 in flight):     {count / raw:8.0f} msg/s  ({raw:.3f} s)")
    print(
        f"  outbox + MqttLink (window {OUTBOX_WINDOW}):  {count / linked:8.0f} msg/s"
        f"  ({linked:.3f} s, of which {deletes:.3f} s deleting acked items)"
    )
    print(f"  ratio link / raw: {raw / linked:.2f}")
    print(
        f"  the link's own cost (all but the deletes): {count / (linked - deletes):.0f} msg/s,"
        f" ratio {raw / (linked - deletes):.2f}"
    )
    return raw / linked


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))  # warnings up
    with tempfile.TemporaryDirectory(prefix="bench-mqtt-") as tmp:
        workdir = Path(tmp)
        payloads = fill_store(Store(workdir / "payloads.db", DEVICE), count)
        size = sum(map(len, payloads)) / count
        print(f"{count} records of {size:.0f} bytes; store on {workdir}")
        print("(SQLite WAL, synchronous=FULL: one fsync per commit)")
        with Mosquitto(workdir / "mosquitto") as broker:
            v5 = compare(broker, workdir, payloads, "5", f"MQTT 5, {broker.url}")
            v311 = compare(broker, workdir, payloads, "3.1.1", f"MQTT 3.1.1, {broker.url}")
        tls = make_tls_files(workdir / "tls")
        with Mosquitto(workdir / "mosquitto-tls", tls=tls) as broker:
            over_tls = compare(broker, workdir, payloads, "5", f"MQTT 5 over TLS, {broker.url}")
    print(f"RESULT outbox_mqtt v5_ratio={v5:.2f} v311_ratio={v311:.2f} tls_ratio={over_tls:.2f}")


if __name__ == "__main__":
    main()

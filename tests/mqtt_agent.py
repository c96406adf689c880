"""An MqttLink for tests: in-process helpers, and a small agent process to SIGKILL.

As a script: `python tests/mqtt_agent.py URL DEVICE_ID STORE [--hang]` runs an MqttLink and
writes JSON lines on stdout: `{"event": "connected"}` once connected, `{"event": "command",
"payload": ...}` for each command handled (with --hang the handler never returns). SIGTERM
stops the link cleanly and exits 0.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from edge.mqtt.config import MqttConfig  # noqa: E402
from edge.mqtt.link import MqttLink  # noqa: E402
from edge.store import Store  # noqa: E402
from edge.timefmt import utc_now_rfc3339  # noqa: E402
from edge.wire.fields import EventBody  # noqa: E402
from testbed.waiting import wait_until_async  # noqa: E402

VERSION = "0.1.0-test"
PROTOCOL = os.environ.get("EDGE_TEST_MQTT_PROTOCOL", "5")


def config(url: str, **overrides: Any) -> MqttConfig:
    """Test-friendly timings: reconnect within 50-200 ms."""
    fields: dict[str, Any] = {
        "url": url,
        "reconnect_min_s": 0.05,
        "reconnect_max_s": 0.2,
        "keepalive_s": 10,
        "protocol": PROTOCOL,
        **overrides,
    }
    return MqttConfig(**fields)


async def _ignore(payload: bytes) -> None:
    return None


def make_link(
    url: str,
    store: Store,
    *,
    device_id: str = "car-0001",
    on_command: Callable[[bytes], Awaitable[None]] = _ignore,
    outbox_window: int = 16,
    offline_events_max: int = 1000,
    on_event: Callable[[EventBody], None] | None = None,
    held_retry_s: float = 30.0,
    **config_overrides: Any,
) -> MqttLink:
    return MqttLink(
        config(url, **config_overrides),
        device_id=device_id,
        kind="vehicle",
        version=VERSION,
        store=store,
        on_command=on_command,
        outbox_window=outbox_window,
        offline_events_max=offline_events_max,
        on_event=on_event,
        held_retry_s=held_retry_s,
    )


def add_records(store: Store, count: int) -> None:
    """`count` records, one transaction each, as the agent commits them."""
    for _ in range(count):
        with store.transaction() as tx:
            tx.add_record("test", {"n": 1}, ts=utc_now_rfc3339(), clock_synced=True)


@asynccontextmanager
async def running(link: MqttLink, *, connect_within_s: float | None = 10.0) -> AsyncIterator[None]:
    """Runs the link for the block (connected and subscribed first, unless told not to wait);
    then stops it and checks run() ended without an exception."""
    task = asyncio.create_task(link.run())
    try:
        if connect_within_s is not None:
            await wait_until_async(lambda: link.subscribed, connect_within_s, "link connected")
        yield
    finally:
        await asyncio.wait_for(link.stop(), 10)
        await asyncio.wait_for(task, 1)  # re-raises whatever run() raised


def _emit(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


async def _main(url: str, device_id: str, store_path: str, hang: bool) -> None:
    store = Store(store_path, device_id)

    async def on_command(payload: bytes) -> None:
        _emit("command", payload=payload.decode())
        if hang:
            await asyncio.Event().wait()

    link = make_link(url, store, device_id=device_id, on_command=on_command)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    task = asyncio.create_task(link.run())
    await wait_until_async(lambda: link.subscribed, 10, "connected and subscribed")
    _emit("connected")
    await stop.wait()
    await link.stop()
    await task


if __name__ == "__main__":
    args = sys.argv[1:]
    hang = "--hang" in args
    url, device_id, store_path = (a for a in args if a != "--hang")
    asyncio.run(_main(url, device_id, store_path, hang))

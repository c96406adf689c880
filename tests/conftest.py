"""Fixtures shared by the suite: a real mosquitto broker and the cloud-side client; the
hypothesis profile."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from testbed.broker import CloudClient, Mosquitto

THREAD_GRACE_S = 3.0

# Properties, not timings: a loaded CI machine or a Pi must not fail a test for being slow.
settings.register_profile(
    "edge", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("edge")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A running mosquitto on a free port with its own persistence; stopped afterwards."""
    broker = Mosquitto(tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def cloud(mosquitto: Mosquitto) -> Iterator[CloudClient]:
    """The cloud side on `mosquitto`: persistent session, subscribed to `fleet/v1/+/#`."""
    client = CloudClient(mosquitto)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def no_thread_leaks() -> Iterator[None]:
    """Fails the test if it leaves threads running (request it before other fixtures)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + THREAD_GRACE_S
    while True:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"threads left running: {[t.name for t in extra]}")
        time.sleep(0.02)

"""`clock_synced` of a record is true only when every wall time in it rests on a synced clock;
a store that cannot take a batch holds its records and moves nothing (docs/time-and-storage.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from test_wire_models import agent_config
from vehicle_driver import TARIFF, Box, wall

from edge.box import BoxServices, IntentRunner
from edge.clock import BoxClock, Now
from edge.intents import Intent, StartTimer
from edge.storage import StorageGuard
from edge.store import Store
from edge.vehicle.inputs import StartRental

CAR = "car-0001"


class _Quiet:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


class ClockBox(Box):
    """The vehicle controller driven with a clock that is synced or not."""

    synced = True

    @property
    def now(self) -> Now:
        return Now(self.mono, wall(self.mono), self.synced)


class NoState(BaseModel):
    pass


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "edge.db", CAR)
    yield s
    s.close()


def runner(store: Store, tmp_path: Path, storage: StorageGuard | None = None) -> IntentRunner:
    services = BoxServices(
        config=agent_config("vehicle", tmp_path),
        store=store,
        clock=BoxClock(None, synced=True),
        outbox_changed=lambda: None,
        publish_event=lambda ts, event: None,
        telemetry_changed=lambda: None,
        logger=_Quiet(),
        storage=storage,
    )
    return IntentRunner(services, "t", NoState, lambda name: None, lambda intent: None, None)


def carry(run: IntentRunner, intents: list[Intent], now: Now) -> None:
    run.carry_out([i for i in intents if not isinstance(i, StartTimer)], None, now)


def records(store: Store) -> dict[str, dict[str, Any]]:
    items = store.outbox_pending(limit=100)
    return {r["type"]: r for r in (json.loads(i.payload) for i in items if i.topic == "records")}


def test_rental_ended_started_on_an_unsynced_clock_is_not_clock_synced(
    store: Store, tmp_path: Path
) -> None:
    run = runner(store, tmp_path)
    car = ClockBox()
    car.synced = False  # the rental starts before NTP
    carry(run, car.send(StartRental(car.command_id(), "order-1", "alice", TARIFF)), car.now)
    for intents in (car.unlock(), car.bus(lock_state="unlocked"), car.bus(start_enabled=True)):
        carry(run, intents, car.now)
    car.synced = True  # NTP arrived
    car.wait(600)
    for intents in (car.end(), car.bus(lock_state="locked"), car.bus(start_enabled=False)):
        carry(run, intents, car.now)
    written = records(store)
    assert written["rental_started"]["clock_synced"] is False
    assert written["rental_ended"]["clock_synced"] is False  # its started_at was not synced


def test_rental_ended_all_on_a_synced_clock_is_clock_synced(store: Store, tmp_path: Path) -> None:
    run = runner(store, tmp_path)
    car = ClockBox()
    carry(run, car.send(StartRental(car.command_id(), "order-1", "alice", TARIFF)), car.now)
    for intents in (car.unlock(), car.bus(lock_state="unlocked"), car.bus(start_enabled=True)):
        carry(run, intents, car.now)
    for intents in (car.end(), car.bus(lock_state="locked"), car.bus(start_enabled=False)):
        carry(run, intents, car.now)
    assert records(store)["rental_ended"]["clock_synced"] is True

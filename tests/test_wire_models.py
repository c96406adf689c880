"""What the box really publishes matches edge.wire's models, and what does not match fails.

Records, replies and events come from the pure controllers through the agent's own IntentRunner
into a real store, so every common field is the store's and every payload is the outbox's bytes;
telemetry comes from the real boxes' `telemetry()`, `ts` added as the agent adds it.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from cabinet_driver import UNLOCKED, Cabinet, reading
from pydantic import BaseModel, ValidationError
from vehicle_driver import PARKED, TARIFF, Box, of_type, wall

from edge.box import BoxServices, IntentRunner
from edge.cabinet.box import CabinetBox
from edge.cabinet.inputs import (
    BankInserted,
    BankRemoved,
    InstallerEject,
    InventoryRead,
    LockChanged,
    Rent,
    Reserve,
    SetSlot,
)
from edge.cabinet.records import BankIn, BankOut, InstallerEjected
from edge.cabinet.telemetry import CabinetTelemetry
from edge.clock import BoxClock, Now
from edge.config import AgentConfig, validate_config
from edge.intents import CancelTimer, StartTimer
from edge.mqtt.link import STATUS_OFFLINE
from edge.mqtt.topics import event_message
from edge.parking.box import ParkingBox
from edge.parking.controller import ParkingController
from edge.parking.inputs import (
    GroundLockFaultChanged,
    InstallerMove,
    LockStatus,
    Lower,
    OccupancyChanged,
    PositionChanged,
    Raise,
)
from edge.parking.records import InstallerMoved, ParkingEnded, ParkingStarted
from edge.parking.telemetry import ParkingTelemetry
from edge.store import Store
from edge.vehicle.box import VehicleBox
from edge.vehicle.inputs import (
    InstallerLockPulse,
    SetService,
    Signals,
    StartRental,
    TroubleCodes,
)
from edge.vehicle.records import InstallerLockPulsed, RentalEnded, RentalStarted
from edge.vehicle.telemetry import VehicleTelemetry
from edge.wire.fields import EventBody, JsonObject
from edge.wire.messages import RECORD_MODELS, validate_outgoing
from edge.wire.status import StatusOffline, StatusOnline
from edge.wire.telemetry import Telemetry
from firmware_protocol.slotboard import GroundLockFault, Position

CONFIG_DIR = Path(__file__).resolve().parents[1] / "config"
DEVICE_ID = "box-0001"
STOCK = {1: ("PB01", 85), 2: ("PB02", 100), 3: ("PB03", 60), 4: ("PB04", 100)}
NO_FAULT = GroundLockFault(0)


class _Quiet:
    """A logger that keeps what the runner logs to itself."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def agent_config(kind: str, tmp_path: Path) -> AgentConfig:
    data = tomllib.loads((CONFIG_DIR / f"{kind}.example.toml").read_text())
    data["device"]["id"] = DEVICE_ID
    data["storage"]["path"] = str(tmp_path / "edge.db")
    return validate_config(data)


def services_for(kind: str, tmp_path: Path, store: Store) -> BoxServices:
    return BoxServices(
        config=agent_config(kind, tmp_path),
        store=store,
        clock=BoxClock(None, synced=True),
        outbox_changed=lambda: None,
        publish_event=lambda ts, event: None,
        telemetry_changed=lambda: None,
        logger=_Quiet(),
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "edge.db", DEVICE_ID)
    try:
        yield opened
    finally:
        opened.close()


class NoState(BaseModel):
    """The runner's snapshot here: the controllers' own are theirs to test."""


class Published:
    """The agent's durable path: a controller's intents through IntentRunner into a real store.
    What it would publish (outbox items, events) is validated at once and kept by topic."""

    def __init__(self, store: Store, services: BoxServices) -> None:
        self.store = store
        self.by_topic: dict[str, list[BaseModel]] = {"records": [], "replies": [], "events": []}
        self._events: list[JsonObject] = []
        self._last_id = 0
        services.publish_event = self._publish_event
        self._runner = IntentRunner(
            services,
            "wire-test",
            snapshot=NoState,
            on_timer=lambda name: None,
            on_hardware=lambda intent: None,
            saved=None,
        )

    def _publish_event(self, ts: str, event: EventBody) -> None:
        self._events.append(event_message(ts, event))

    def __call__(self, intents: list[Any], now: Now) -> list[Any]:
        # Timers need a running loop, and are not on the wire.
        wire = [i for i in intents if not isinstance(i, StartTimer | CancelTimer)]
        self._runner.carry_out(wire, None, now)
        for item in self.store.outbox_pending(after_id=self._last_id, limit=1000):
            self._last_id = item.id
            self.by_topic[item.topic].append(validate_outgoing(item.topic, item.payload))
        for event in self._events:
            self.by_topic["events"].append(validate_outgoing("events", event))
        self._events.clear()
        return intents

    def of(self, model: type[BaseModel]) -> list[Any]:
        return [m for models in self.by_topic.values() for m in models if isinstance(m, model)]

    def event_types(self) -> list[str]:
        return [event.model_dump()["type"] for event in self.by_topic["events"]]

    def statuses(self) -> list[str]:
        return [reply.model_dump()["status"] for reply in self.by_topic["replies"]]


@pytest.fixture
def published(tmp_path: Path, store: Store) -> Published:
    return Published(store, services_for("vehicle", tmp_path, store))


def test_the_scenarios_below_cover_every_record_type() -> None:
    vehicle = {"rental_started", "rental_ended", "test_lock_pulse"}
    cabinet = {"bank_out", "bank_in", "test_eject"}
    parking = {"parking_started", "parking_ended", "test_move"}
    assert set(RECORD_MODELS) == vehicle | cabinet | parking


# -- vehicle ----------------------------------------------------------------------------------


def test_a_rental_publishes_what_the_models_say(published: Published) -> None:
    car = Box()
    car.send(TroubleCodes(("P0420",)))
    published(car.send(StartRental(car.command_id(), "order-1", "alice", TARIFF)), car.now)
    published(car.unlock(), car.now)
    published(car.bus(lock_state="unlocked"), car.now)
    published(car.bus(start_enabled=True), car.now)
    car.wait(3725.3)
    published(car.bus(fuel_pct=62.46, odometer_km=12432.94), car.now)
    published(car.end(), car.now)
    published(car.bus(lock_state="locked"), car.now)
    published(car.bus(start_enabled=False), car.now)

    (started,) = published.of(RentalStarted)
    assert (started.seq, started.device_id, started.clock_synced) == (1, DEVICE_ID, True)
    assert (started.fuel_pct, started.odometer_km, started.check.fault_codes) == (
        80.0,
        12345.6,
        ["P0420"],
    )
    (ended,) = published.of(RentalEnded)
    assert (ended.seq, ended.duration_s, ended.started_at) == (2, 3725, started.ts)
    assert ended.charges.model_dump() == {
        "time_cents": 1575,
        "fuel_cents": 6904,
        "total_cents": 8479,
        "currency": "EUR",
    }
    assert published.statuses() == ["ok", "ok", "ok"]
    # end_rental's reply carries the record as written, common fields and all.
    assert published.by_topic["replies"][-1].model_dump()["result"] == ended.model_dump()


def test_a_booking_ended_before_any_unlock_with_nothing_read(published: Published) -> None:
    nothing_read = Signals(
        lock_state="locked", start_enabled=False, engine_running=False, doors_closed=True
    )
    car = Box(nothing_read)
    published(car.send(StartRental(car.command_id(), "order-1", "alice", TARIFF)), car.now)
    published(car.end(), car.now)
    (ended,) = published.of(RentalEnded)
    assert (ended.started_at, ended.duration_s, ended.charges.total_cents) == (None, 0, 0)
    assert (ended.fuel_start_pct, ended.odometer_end_km, ended.distance_km) == (None, None, None)
    assert (ended.check.ignition, ended.check.fault_codes) == (None, None)
    assert ended.check.notes == ["booking cancelled before the first unlock"]


def test_vehicle_events_and_failed_replies(published: Published) -> None:
    car = Box()
    published(car.send(StartRental(car.command_id(), "order-1", "alice", TARIFF)), car.now)
    intents = published(car.unlock(), car.now)
    while of_type(intents, StartTimer):  # the bus never confirms: retries, then fault
        intents = published(car.fire(intents), car.now)
    published(car.send(SetService(car.command_id(), False, "dent")), car.now)
    assert published.event_types() == ["lock_fault", "service_changed"]
    assert published.statuses() == ["ok", "failed", "ok"]


# -- cabinet ----------------------------------------------------------------------------------


def test_cabinet_records_and_events(published: Published) -> None:
    box = Cabinet(STOCK)
    run = published

    def send(event: Any) -> list[Any]:
        return run(box.send(event), box.now)

    send(Reserve("c1", "res-1", "rent", 2, 600))  # slots 2 and 4
    send(Rent("c2", "order-1", reservation_id="res-1"))
    send(LockChanged(2, UNLOCKED))
    send(LockChanged(4, UNLOCKED))
    box.wait(5)
    send(BankRemoved(2, forced=False))
    send(BankRemoved(4, forced=False))
    send(Rent("c3", "order-2", count=1))  # slot 1, no reservation
    send(LockChanged(1, UNLOCKED))
    send(BankRemoved(1, forced=False))
    send(Reserve("c4", "res-2", "return", 1, 600))  # slot 1, empty again
    send(BankInserted(1, "PB77", 12))
    send(BankInserted(5, None, 40))  # an unidentified bank, unreserved
    send(SetSlot("c5", 6, False))
    send(BankRemoved(3, forced=True))  # never ejected

    outs = published.of(BankOut)
    assert [(r.slot, r.reservation_id, r.reserved_at is None) for r in outs] == [
        (2, "res-1", False),
        (4, "res-1", False),
        (1, None, True),
    ]
    assert all(r.taken_at == r.seen_at and not r.observed_after_restart for r in outs)
    ins = published.of(BankIn)
    assert [(r.slot, r.bank_id, r.reservation_id) for r in ins] == [
        (1, "PB77", "res-2"),
        (5, None, None),
    ]
    assert [r.seq for r in published.of(BankOut) + published.of(BankIn)] == [1, 2, 3, 4, 5]
    assert "unknown_bank" in published.event_types()
    assert "forced_removal" in published.event_types()
    assert set(published.statuses()) == {"ok"}


def test_banks_that_came_and_went_while_the_agent_was_down(published: Published) -> None:
    box = Cabinet(STOCK)
    published(box.send(Rent("c1", "order-1", count=1)), box.now)  # slot 2
    published(box.send(LockChanged(2, UNLOCKED)), box.now)
    published(box.send(Reserve("c2", "res-1", "return", 1, 600)), box.now)  # slot 5
    box.wait(100)
    published(box.restart(), box.now)
    stock = {**STOCK, 5: ("PB55", 30)}
    del stock[2]
    published(box.send(box.inventory(stock)), box.now)
    (out,) = published.of(BankOut)
    (back,) = published.of(BankIn)
    assert (out.observed_after_restart, out.taken_at) == (True, None)
    assert (back.observed_after_restart, back.returned_at, back.reservation_id) == (
        True,
        None,
        "res-1",
    )


# -- parking ----------------------------------------------------------------------------------


def test_parking_records_and_events(published: Published) -> None:
    controller = ParkingController(10.0)
    mono = 500.0

    def send(event: Any) -> list[Any]:
        now = Now(mono, wall(mono), False)
        return published(controller.handle(event, now), now)

    send(LockStatus(Position.RAISED, False, NO_FAULT))
    send(Lower("c1", "order-1"))
    send(PositionChanged(Position.LOWERED))
    send(OccupancyChanged(True))
    send(Raise("c2", "order-1"))  # refused: a car is over the lock
    mono += 3600.7
    send(OccupancyChanged(False))
    send(Raise("c3", "order-1"))
    send(PositionChanged(Position.RAISED))
    send(GroundLockFaultChanged(GroundLockFault.MOTOR_STALL))

    (started,) = published.of(ParkingStarted)
    (ended,) = published.of(ParkingEnded)
    assert (started.seq, ended.seq, ended.duration_s) == (1, 2, 3600)
    assert started.clock_synced is False
    assert published.statuses() == ["ok", "rejected", "ok"]
    assert published.event_types() == ["ground_lock_faults", "ground_lock_fault"]


# -- installer grants -------------------------------------------------------------------------


def test_installer_grants_publish_what_the_models_say(published: Published) -> None:
    car = Box()
    published(car.send(InstallerLockPulse("g-1", "unlock")), car.now)
    published(car.bus(lock_state="unlocked"), car.now)
    (pulse,) = published.of(InstallerLockPulsed)
    assert (pulse.grant_id, pulse.action, pulse.seq) == ("g-1", "unlock", 1)

    cabinet = Cabinet(STOCK)
    published(cabinet.send(InstallerEject("g-2", 2)), cabinet.now)
    published(cabinet.send(LockChanged(2, UNLOCKED)), cabinet.now)
    published(cabinet.send(BankRemoved(2, forced=False)), cabinet.now)
    (eject,) = published.of(InstallerEjected)
    (out,) = published.of(BankOut)
    assert (eject.grant_id, eject.bank_id, out.grant_id, out.seq) == ("g-2", "PB02", "g-2", 3)

    space = ParkingController(10.0)
    now = Now(500.0, wall(500.0), True)
    published(space.handle(LockStatus(Position.RAISED, False, NO_FAULT), now), now)
    published(space.handle(InstallerMove("g-3", "lower"), now), now)
    published(space.handle(PositionChanged(Position.LOWERED), now), now)
    (move,) = published.of(InstallerMoved)
    assert (move.grant_id, move.direction) == ("g-3", "lower")
    assert published.statuses() == ["ok", "ok", "ok"]


# -- telemetry --------------------------------------------------------------------------------


def snapshot(box: VehicleBox | CabinetBox | ParkingBox) -> JsonObject:
    """What the agent publishes on `telemetry` (edge/agent.py)."""
    telemetry: Telemetry = box.telemetry(box.services.clock.now().wall)
    return telemetry.model_dump(mode="json")


def test_vehicle_telemetry(tmp_path: Path, store: Store) -> None:
    box = VehicleBox(services_for("vehicle", tmp_path, store))
    unknown = validate_outgoing("telemetry", snapshot(box), kind="vehicle")
    assert isinstance(unknown, VehicleTelemetry)
    assert (unknown.fuel_pct, unknown.lock, unknown.start_enabled) == (None, "unknown", None)
    values = {**asdict(PARKED)}
    for broadcast in box.codec.broadcasts:
        # The frames the car broadcasts, handed over as the CAN link hands them.
        box._on_frame(*box.codec.encode_status(broadcast.message, values))
    known = validate_outgoing("telemetry", json.dumps(snapshot(box)).encode(), kind="vehicle")
    assert isinstance(known, VehicleTelemetry)
    assert (known.fuel_pct, known.odometer_km, known.lock, known.rental) == (
        80.0,
        12345.6,
        "locked",
        "none",
    )
    assert (known.ignition, known.doors_closed, known.start_enabled) == (False, True, False)


def test_cabinet_telemetry(tmp_path: Path, store: Store) -> None:
    box = CabinetBox(services_for("cabinet", tmp_path, store))
    unread = validate_outgoing("telemetry", snapshot(box), kind="cabinet")
    assert isinstance(unread, CabinetTelemetry)
    assert {slot.state for slot in unread.slots} == {"unknown"}
    assert (unread.link.up, [board.state for board in unread.link.boards]) == (False, ["unread"])
    now = box.services.clock.now()
    slots = range(1, len(unread.slots) + 1)
    stock = tuple(reading(n, *STOCK[n]) if n in STOCK else reading(n) for n in slots)
    box.controller.handle(InventoryRead(stock), now)
    box.controller.handle(Reserve("c1", "res-1", "rent", 1, 600), now)
    box.controller.handle(SetSlot("c2", slots[-1], False), now)
    read = validate_outgoing("telemetry", snapshot(box), kind="cabinet")
    assert isinstance(read, CabinetTelemetry)
    assert [slot.state for slot in read.slots[:5]] == [
        "occupied",
        "reserved_rent",
        "occupied",
        "occupied",
        "empty",
    ]
    assert (read.slots[0].bank_id, read.slots[0].charge_pct, read.slots[4].bank_id) == (
        "PB01",
        85,
        None,
    )
    assert (read.slots[-1].state, read.slots[-1].enabled) == ("disabled", False)


def test_parking_telemetry(tmp_path: Path, store: Store) -> None:
    box = ParkingBox(services_for("parking", tmp_path, store))
    unknown = validate_outgoing("telemetry", snapshot(box), kind="parking")
    assert isinstance(unknown, ParkingTelemetry)
    assert (unknown.lock, unknown.occupied, unknown.order_id) == ("unknown", None, None)
    now = box.services.clock.now()
    box.controller.handle(LockStatus(Position.RAISED, False, NO_FAULT), now)
    box.controller.handle(Lower("c1", "order-1"), now)
    box.controller.handle(PositionChanged(Position.LOWERED), now)
    parked = validate_outgoing("telemetry", snapshot(box), kind="parking")
    assert isinstance(parked, ParkingTelemetry)
    assert (parked.lock, parked.occupied, parked.order_id) == ("lowered", False, "order-1")
    box.controller.handle(GroundLockFaultChanged(GroundLockFault.OCCUPANCY_SENSOR), now)
    blind = validate_outgoing("telemetry", snapshot(box), kind="parking")
    assert isinstance(blind, ParkingTelemetry)
    assert blind.occupied is None


# -- status -----------------------------------------------------------------------------------


def test_status_payloads() -> None:
    assert isinstance(validate_outgoing("status", STATUS_OFFLINE), StatusOffline)
    online = {"online": True, "kind": "cabinet", "version": "0.1.0", "ts": wall(1.0)}
    assert isinstance(validate_outgoing("status", online), StatusOnline)
    with pytest.raises(ValidationError):
        validate_outgoing("status", {"online": True, "kind": "cabinet", "ts": wall(1.0)})
    with pytest.raises(ValidationError):
        validate_outgoing("status", {"online": False, "kind": "cabinet"})


# -- drift fails ------------------------------------------------------------------------------


@pytest.fixture
def parking_ended(store: Store) -> dict[str, Any]:
    fields = {
        "order_id": "order-1",
        "started_at": wall(0.0),
        "ended_at": wall(61.0),
        "duration_s": 61,
    }
    with store.transaction() as tx:
        return tx.add_record("parking_ended", fields, ts=wall(61.0), clock_synced=True)


def test_a_real_record_passes_and_every_kind_of_drift_fails(parking_ended: dict[str, Any]) -> None:
    assert isinstance(validate_outgoing("records", parking_ended), ParkingEnded)
    missing = {k: v for k, v in parking_ended.items() if k != "duration_s"}
    extra = {**parking_ended, "fee_cents": 100}
    drifts = [
        missing,
        extra,
        {**parking_ended, "seq": "1"},
        {**parking_ended, "duration_s": 61.0},
        {**parking_ended, "clock_synced": 1},
        {**parking_ended, "ts": "2026-11-23T18:14:27Z"},  # no milliseconds
        {**parking_ended, "record_id": "not-a-uuid"},
        {**parking_ended, "device_id": "box 1"},
        {**parking_ended, "type": "parking_paused"},
        {**parking_ended, "type": "parking_started"},  # a field too many for that type
    ]
    for drift in drifts:
        with pytest.raises(ValidationError):
            validate_outgoing("records", drift)
    for name in ("record_id", "seq", "device_id", "type", "ts", "clock_synced"):
        with pytest.raises(ValidationError):
            validate_outgoing("records", {k: v for k, v in parking_ended.items() if k != name})


def test_money_must_be_whole_cents(published: Published) -> None:
    car = Box()
    published(car.send(StartRental(car.command_id(), "order-1", "alice", TARIFF)), car.now)
    published(car.end(), car.now)
    (ended,) = published.of(RentalEnded)
    record = ended.model_dump()
    validate_outgoing("records", record)
    record["charges"] = {**record["charges"], "fuel_cents": 12.5}
    with pytest.raises(ValidationError, match="fuel_cents"):
        validate_outgoing("records", record)


def test_other_topics_catch_drift_too() -> None:
    event = {
        "ts": wall(0.0),
        "type": "forced_removal",
        "slot": 3,
        "bank_id": None,
        "charge_pct": None,
        "forced": True,
    }
    assert validate_outgoing("events", event).model_dump() == event  # its own fields kept
    with pytest.raises(ValidationError):
        validate_outgoing("events", {"type": "forced_removal", "slot": 3})
    with pytest.raises(ValidationError):  # each type has its own fields, and no others
        validate_outgoing("events", {**event, "reason": "x"})
    with pytest.raises(ValidationError):
        validate_outgoing("events", {**event, "type": "bank_gone"})
    reply = {"command_id": None, "status": "rejected", "code": "bad_json", "detail": "x"}
    validate_outgoing("replies", {**reply, "result": None})
    with pytest.raises(ValidationError):
        validate_outgoing("replies", {**reply, "code": "hardware_fault"})  # a failure's code
    with pytest.raises(ValidationError):
        validate_outgoing("replies", {**reply, "reason": "x"})
    telemetry = {"ts": wall(0.0), "lock": "raised", "occupied": False, "order_id": None}
    with pytest.raises(ValidationError, match="link"):
        validate_outgoing("telemetry", telemetry, kind="parking")
    with pytest.raises(ValidationError):
        validate_outgoing("telemetry", b"{not json", kind="parking")


def test_what_validate_outgoing_does_not_know_is_a_plain_value_error() -> None:
    # Not a ValidationError (itself a ValueError): the caller asked a wrong question.
    with pytest.raises(ValueError, match="telemetry") as no_kind:
        validate_outgoing("telemetry", {"ts": wall(0.0)})
    with pytest.raises(ValueError, match="commands") as incoming:
        validate_outgoing("commands", {})
    assert type(no_kind.value) is type(incoming.value) is ValueError

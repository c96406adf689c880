"""The vehicle snapshot is the JSON the store holds: a box upgraded in the field restores what
the dict snapshots before the pydantic models wrote, and writes it back the same."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from pydantic import JsonValue
from vehicle_driver import PARKED, RETRIES, TIMEOUT_S, Box, of_type

from edge.intents import Reply
from edge.vehicle.controller import VehicleController
from edge.vehicle.intents import SendCan

# Captured from the dict snapshots of the code before the models (git HEAD at issue 9):
# a new controller; an active rental out of service with a withdrawal pending (tank 42.70 l);
# a booking whose first unlock was in flight.
IDLE = (
    '{"version": 1, "in_service": true, "service_reason": "", "rental": {"state": "none", '
    '"order_id": null, "renter": null, "tariff": null, "started_mono": null, '
    '"started_wall": null, "fuel_start_pct": null, "odometer_start_km": null}, '
    '"command_in_flight": null, "lock": {"timer_seq": 0}, '
    '"start_enable": {"timer_seq": 0, "withdraw_pending": false}}'
)
ACTIVE_PENDING = (
    '{"version": 1, "in_service": false, "service_reason": "violation", "rental": '
    '{"state": "active", "order_id": "order-7", "renter": "bob", "tariff": '
    '{"per_minute_cents": 30, "fuel_price_cents_per_litre": 812, "tank_litres": "42.70", '
    '"currency": "EUR"}, "started_mono": 1000.0, "started_wall": "2026-11-23T18:16:40.000Z", '
    '"fuel_start_pct": "80.0", "odometer_start_km": "12345.6"}, "command_in_flight": null, '
    '"lock": {"timer_seq": 2}, "start_enable": {"timer_seq": 1, "withdraw_pending": true}}'
)
UNLOCK_IN_FLIGHT = (
    '{"version": 1, "in_service": true, "service_reason": "", "rental": {"state": "booked", '
    '"order_id": "order-1", "renter": "alice", "tariff": {"per_minute_cents": 25, '
    '"fuel_price_cents_per_litre": 789, "tank_litres": "50", "currency": "EUR"}, '
    '"started_mono": null, "started_wall": null, "fuel_start_pct": null, '
    '"odometer_start_km": null}, "command_in_flight": "cmd-2", "lock": {"timer_seq": 1}, '
    '"start_enable": {"timer_seq": 0, "withdraw_pending": false}}'
)


def restored(saved: str) -> VehicleController:
    stored: JsonValue = json.loads(saved)
    return VehicleController.restore(stored, TIMEOUT_S, RETRIES)


@pytest.mark.parametrize("saved", [IDLE, ACTIVE_PENDING, UNLOCK_IN_FLIGHT])
def test_an_old_snapshot_restores_and_is_written_back_the_same(saved: str) -> None:
    controller = restored(saved)
    written = controller.snapshot().model_dump(mode="json")
    assert written == json.loads(saved)
    # The same keys in the same order: the store's JSON text does not change either.
    assert json.dumps(written) == saved


def test_an_old_snapshot_goes_on_where_it_stopped() -> None:
    controller = restored(ACTIVE_PENDING)
    assert controller.describe().model_dump() == {
        "rental": "active",
        "order_id": "order-7",
        "renter": "bob",
        "started_at": "2026-11-23T18:16:40.000Z",
        "in_service": False,
        "service_reason": "violation",
    }
    box = Box(replace(PARKED, start_enabled=True, engine_running=True))
    box.controller = controller
    assert box.controller.resume(box.now) == []
    # The withdrawal still waits for the engine, then goes ahead.
    assert of_type(box.bus(), SendCan) == []
    assert of_type(box.bus(engine_running=False), SendCan) == [SendCan("start_disable")]


def test_an_old_snapshot_with_a_command_in_flight_answers_it() -> None:
    controller = restored(UNLOCK_IN_FLIGHT)
    assert controller.command_in_flight == "cmd-2"
    box = Box()
    box.controller = controller
    assert box.controller.resume(box.now) == [
        Reply("cmd-2", "failed", "hardware_fault", "interrupted by restart")
    ]


def test_a_new_snapshot_round_trips() -> None:
    box = Box()
    box.rent()
    box.bus(engine_running=True)
    box.lock()
    box.bus(lock_state="locked")
    saved = box.controller.snapshot().model_dump_json()
    again = restored(saved).snapshot()
    assert again == box.controller.snapshot()
    assert again.model_dump_json() == saved

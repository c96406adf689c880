"""Drives the vehicle controller as its adapter would: a clock, the bus snapshot, and helpers
over intents."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import JsonValue

from edge.clock import Now
from edge.intents import Intent, RaiseEvent, Reply, StartTimer, TimerFired
from edge.vehicle.controller import VehicleController
from edge.vehicle.inputs import (
    EndRental,
    Lock,
    Signals,
    SignalsUpdated,
    StartRental,
    Tariff,
    Unlock,
    VehicleInput,
)
from edge.vehicle.intents import SendCan
from edge.wire.fields import EventBody

TIMEOUT_S = 2.0
RETRIES = 2
EPOCH = datetime(2026, 11, 23, 18, 0, 0, tzinfo=UTC)
TARIFF = Tariff(
    per_minute_cents=25, fuel_price_cents_per_litre=789, tank_litres=Decimal("50"), currency="EUR"
)
PARKED = Signals(
    fuel_pct=80.0,
    odometer_km=12345.6,
    speed_kmh=0.0,
    ignition=False,
    engine_running=False,
    doors_closed=True,
    lock_state="locked",
    start_enabled=False,
)

T = TypeVar("T")


def wall(mono: float) -> str:
    moment = EPOCH + timedelta(seconds=mono)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def of_type(intents: list[Intent], kind: type[T]) -> list[T]:
    return [intent for intent in intents if isinstance(intent, kind)]


def result_of(reply: Reply) -> JsonValue:
    """A reply's result as its JSON."""
    return None if reply.result is None else reply.result.model_dump(mode="json")


def events(intents: list[Intent]) -> list[EventBody]:
    """The events raised in `intents`, in order."""
    return [intent.event for intent in of_type(intents, RaiseEvent)]


class Box:
    """The controller as the adapter drives it; `signals` is what the bus shows now."""

    def __init__(self, signals: Signals = PARKED) -> None:
        self.controller = VehicleController(TIMEOUT_S, RETRIES)
        self.mono = 1000.0
        self.signals = signals
        self.counter = 0
        self.send(SignalsUpdated(signals))

    @property
    def now(self) -> Now:
        return Now(self.mono, wall(self.mono), True)

    def send(self, event: VehicleInput) -> list[Intent]:
        return self.controller.handle(event, self.now)

    def bus(self, **changes: Any) -> list[Intent]:
        self.signals = replace(self.signals, **changes)
        return self.send(SignalsUpdated(self.signals))

    def wait(self, seconds: float) -> None:
        self.mono += seconds

    def command_id(self) -> str:
        self.counter += 1
        return f"cmd-{self.counter}"

    def book(self, order_id: str = "order-1") -> Reply:
        return self.reply(self.send(StartRental(self.command_id(), order_id, "alice", TARIFF)))

    def unlock(self, order_id: str = "order-1") -> list[Intent]:
        return self.send(Unlock(self.command_id(), order_id))

    def lock(self, order_id: str = "order-1") -> list[Intent]:
        return self.send(Lock(self.command_id(), order_id))

    def end(self, order_id: str = "order-1") -> list[Intent]:
        return self.send(EndRental(self.command_id(), order_id))

    def fire(self, intents: list[Intent]) -> list[Intent]:
        """Lets the timer started in `intents` run out."""
        (timer,) = of_type(intents, StartTimer)
        self.wait(timer.seconds)
        return self.send(TimerFired(timer.name))

    def rent(self, order_id: str = "order-1") -> None:
        """Books and opens the car: it is unlocked, start enabled, the rental active."""
        assert self.book(order_id).status == "ok"
        assert of_type(self.unlock(order_id), SendCan) == [SendCan("unlock")]
        assert of_type(self.bus(lock_state="unlocked"), SendCan) == [SendCan("start_enable")]
        assert self.reply(self.bus(start_enabled=True)).status == "ok"

    @staticmethod
    def reply(intents: list[Intent]) -> Reply:
        (reply,) = of_type(intents, Reply)
        return reply

"""The rental: none -> booked (start_rental) -> active (first confirmed unlock) -> none (ended).

The clock runs on the monotonic clock from the first confirmed unlock; the wall-clock strings are
only for the record.
"""

import math
from decimal import Decimal
from typing import Any

from transitions import Machine

from edge.vehicle.charges import rental_charges
from edge.vehicle.events import Now, Tariff
from edge.vehicle.readings import Readings, json_number

NONE = "none"
BOOKED = "booked"
ACTIVE = "active"


class Rental:
    state: str
    order_id: str | None
    renter: str | None
    tariff: Tariff | None
    started_mono: float | None
    started_wall: str | None
    at_start: Readings

    def __init__(self) -> None:
        self._forget()
        self._machine = Machine(
            model=self,
            states=[NONE, BOOKED, ACTIVE],
            transitions=[
                {"trigger": "book", "source": NONE, "dest": BOOKED},
                {"trigger": "activate", "source": BOOKED, "dest": ACTIVE},
                {"trigger": "close", "source": [BOOKED, ACTIVE], "dest": NONE},
            ],
            initial=NONE,
            auto_transitions=False,
        )

    def refusal(self, order_id: str) -> str | None:
        """Why a command for `order_id` may not act on this rental, or None."""
        if self.state == NONE:
            return "no rental"
        if order_id != self.order_id:
            return "order mismatch"
        return None

    def book_for(self, order_id: str, renter: str, tariff: Tariff) -> None:
        self._machine.dispatch("book")
        self.order_id, self.renter, self.tariff = order_id, renter, tariff

    def start_clock(self, now: Now, readings: Readings, check: dict[str, Any]) -> dict[str, Any]:
        """Booked -> active; returns the `rental_started` record's fields."""
        self._machine.dispatch("activate")
        self.started_mono, self.started_wall, self.at_start = now.mono, now.wall, readings
        return {
            "order_id": self.order_id,
            "renter": self.renter,
            "fuel_pct": json_number(readings.fuel_pct),
            "odometer_km": json_number(readings.odometer_km),
            "check": check,
        }

    def finish(self, now: Now, readings: Readings, check: dict[str, Any]) -> dict[str, Any]:
        """Ends the rental (a booking never unlocked is cancelled at no charge); returns the
        `rental_ended` record's fields."""
        assert self.tariff is not None
        notes: list[str] = []
        if self.state == ACTIVE:
            assert self.started_mono is not None
            duration_s = max(0, math.floor(now.mono - self.started_mono))
            if self.at_start.fuel_pct is None or readings.fuel_pct is None:
                notes.append("fuel unknown")
            if self.at_start.odometer_km is None or readings.odometer_km is None:
                notes.append("odometer unknown")
        else:
            duration_s = 0
            notes.append("booking cancelled before the first unlock")
        start, end = self.at_start, readings
        distance = (
            None
            if start.odometer_km is None or end.odometer_km is None
            else end.odometer_km - start.odometer_km  # both in tenths: exact
        )
        charges = rental_charges(duration_s, start.fuel_pct, end.fuel_pct, self.tariff)
        fields = {
            "order_id": self.order_id,
            "started_at": self.started_wall,
            "ended_at": now.wall,
            "duration_s": duration_s,
            "fuel_start_pct": json_number(start.fuel_pct),
            "fuel_end_pct": json_number(end.fuel_pct),
            "odometer_start_km": json_number(start.odometer_km),
            "odometer_end_km": json_number(end.odometer_km),
            "distance_km": json_number(distance),
            "check": {**check, "notes": notes},
            "charges": charges.as_fields(),
        }
        self._machine.dispatch("close")
        self._forget()
        return fields

    def _forget(self) -> None:
        self.order_id = self.renter = self.started_wall = None
        self.tariff = None
        self.started_mono = None
        self.at_start = Readings(None, None)

    def snapshot(self) -> dict[str, Any]:
        tariff = self.tariff
        return {
            "state": self.state,
            "order_id": self.order_id,
            "renter": self.renter,
            "tariff": None
            if tariff is None
            else {
                "per_minute_cents": tariff.per_minute_cents,
                "fuel_price_cents_per_litre": tariff.fuel_price_cents_per_litre,
                "tank_litres": str(tariff.tank_litres),
                "currency": tariff.currency,
            },
            "started_mono": self.started_mono,
            "started_wall": self.started_wall,
            "fuel_start_pct": _text(self.at_start.fuel_pct),
            "odometer_start_km": _text(self.at_start.odometer_km),
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        state = snapshot["state"]
        if state not in (NONE, BOOKED, ACTIVE):
            raise ValueError(f"unknown rental state {state!r}")
        tariff = snapshot["tariff"]
        self.order_id = snapshot["order_id"]
        self.renter = snapshot["renter"]
        self.tariff = (
            None
            if tariff is None
            else Tariff(
                per_minute_cents=int(tariff["per_minute_cents"]),
                fuel_price_cents_per_litre=int(tariff["fuel_price_cents_per_litre"]),
                tank_litres=Decimal(tariff["tank_litres"]),
                currency=str(tariff["currency"]),
            )
        )
        self.started_mono = snapshot["started_mono"]
        self.started_wall = snapshot["started_wall"]
        self.at_start = Readings(
            _decimal(snapshot["fuel_start_pct"]), _decimal(snapshot["odometer_start_km"])
        )
        self._machine.set_state(state)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)

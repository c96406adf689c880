"""The rental: none -> booked (start_rental) -> active (first confirmed unlock) -> none (ended).

The clock runs on the monotonic clock from the first confirmed unlock; the wall-clock strings are
only for the record.
"""

import math
from collections.abc import Hashable

from transitions import Machine

from edge.clock import Now
from edge.vehicle.charges import rental_charges
from edge.vehicle.inputs import Tariff
from edge.vehicle.readings import Readings, json_number
from edge.vehicle.records import RentalEnded, RentalStarted, VehicleCheck, VehicleEndCheck
from edge.vehicle.snapshot import RentalSnapshot, TariffSnapshot
from edge.vehicle.states import RentalState
from edge.vehicle.telemetry import RentalView

NONE = RentalState.NONE
BOOKED = RentalState.BOOKED
ACTIVE = RentalState.ACTIVE

_VIEWS: dict[RentalState, RentalView] = {NONE: "none", BOOKED: "booked", ACTIVE: "active"}


class Rental:
    state: RentalState
    order_id: str | None
    renter: str | None
    tariff: Tariff | None
    started_mono: float | None
    started_wall: str | None
    started_synced: bool | None  # None: not known (a snapshot from before)
    at_start: Readings

    def __init__(self) -> None:
        self._forget()
        self._machine = Machine(
            model=self,
            states=RentalState,
            transitions=[
                {"trigger": "book", "source": NONE, "dest": BOOKED},
                {"trigger": "activate", "source": BOOKED, "dest": ACTIVE},
                {"trigger": "close", "source": [BOOKED, ACTIVE], "dest": NONE},
            ],
            initial=NONE,
            auto_transitions=False,
        )

    @property
    def view(self) -> RentalView:
        """The rental as telemetry and the replies show it."""
        return _VIEWS[self.state]

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

    def start_clock(self, now: Now, readings: Readings, check: VehicleCheck) -> RentalStarted:
        """Booked -> active; returns the `rental_started` record."""
        assert self.order_id is not None
        assert self.renter is not None
        self._machine.dispatch("activate")
        self.started_mono, self.started_wall, self.at_start = now.mono, now.wall, readings
        self.started_synced = now.clock_synced
        return RentalStarted(
            order_id=self.order_id,
            renter=self.renter,
            fuel_pct=json_number(readings.fuel_pct),
            odometer_km=json_number(readings.odometer_km),
            check=check,
        )

    def finish(self, now: Now, readings: Readings, check: VehicleCheck) -> RentalEnded:
        """Ends the rental (a booking never unlocked is cancelled at no charge); returns the
        `rental_ended` record."""
        assert self.tariff is not None
        assert self.order_id is not None
        notes: list[str] = []
        if self.state == ACTIVE:
            assert self.started_mono is not None
            duration_s = max(0, math.floor(now.since(self.started_mono)))
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
        record = RentalEnded(
            order_id=self.order_id,
            started_at=self.started_wall,
            ended_at=now.wall,
            duration_s=duration_s,
            fuel_start_pct=json_number(start.fuel_pct),
            fuel_end_pct=json_number(end.fuel_pct),
            odometer_start_km=json_number(start.odometer_km),
            odometer_end_km=json_number(end.odometer_km),
            distance_km=json_number(distance),
            check=VehicleEndCheck(**check.model_dump(), notes=notes),
            charges=rental_charges(duration_s, start.fuel_pct, end.fuel_pct, self.tariff),
        )
        self._machine.dispatch("close")
        self._forget()
        return record

    def _forget(self) -> None:
        self.order_id = self.renter = self.started_wall = None
        self.tariff = None
        self.started_mono = None
        self.started_synced = None
        self.at_start = Readings(None, None)

    def snapshot_inputs(self) -> tuple[Hashable, ...]:
        """Everything `snapshot()` is built from: equal inputs, an equal snapshot."""
        return (
            self.state,
            self.order_id,
            self.renter,
            self.tariff,
            self.started_mono,
            self.started_wall,
            self.started_synced,
            self.at_start,
        )

    def snapshot(self) -> RentalSnapshot:
        tariff = self.tariff
        return RentalSnapshot(
            state=self.state,
            order_id=self.order_id,
            renter=self.renter,
            tariff=None
            if tariff is None
            else TariffSnapshot(
                per_minute_cents=tariff.per_minute_cents,
                fuel_price_cents_per_litre=tariff.fuel_price_cents_per_litre,
                tank_litres=tariff.tank_litres,
                currency=tariff.currency,
            ),
            started_mono=self.started_mono,
            started_wall=self.started_wall,
            started_synced=self.started_synced,
            fuel_start_pct=self.at_start.fuel_pct,
            odometer_start_km=self.at_start.odometer_km,
        )

    def restore(self, snapshot: RentalSnapshot) -> None:
        tariff = snapshot.tariff
        self.order_id = snapshot.order_id
        self.renter = snapshot.renter
        self.tariff = (
            None
            if tariff is None
            else Tariff(
                per_minute_cents=tariff.per_minute_cents,
                fuel_price_cents_per_litre=tariff.fuel_price_cents_per_litre,
                tank_litres=tariff.tank_litres,
                currency=tariff.currency,
            )
        )
        self.started_mono = snapshot.started_mono
        self.started_wall = snapshot.started_wall
        self.started_synced = snapshot.started_synced
        self.at_start = Readings(snapshot.fuel_start_pct, snapshot.odometer_start_km)
        self._machine.set_state(snapshot.state)

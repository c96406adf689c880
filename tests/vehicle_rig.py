"""The vehicle box end to end, for the tests: the agent and `edge-sim vehicle` as processes,
SLCAN on a pty, a private mosquitto and the signing backend (testbed/rig.py), plus the helpers and
invariants the end-to-end tests share."""

from __future__ import annotations

import contextlib
import math
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from testbed.rig import BoxRig, closed_after

DEVICE = "car-e2e"
TARIFF = {
    "per_minute_cents": 25,
    "fuel_price_cents_per_litre": 189,
    "tank_litres": 50,
    "currency": "EUR",
}
# Short actuator timeouts: a stuck lock fails within about a second.
FAST = {"command_timeout_s": 0.5, "command_retries": 1}
TELEMETRY_S = 0.5  # telemetry.interval_s: a fresh snapshot never takes long to come
# The sim's cyclic status frames (vehicle.dbc): fuel and odometer every 1 s, the rest faster.
SLOWEST_CYCLE_S = 1.0
STALE_CYCLES = 3
KNOWN_SIGNALS = ("fuel_pct", "odometer_km", "doors_closed", "engine_running", "start_enabled")
CONFIRMED = ("locked", "unlocked")  # lock states the bus has shown


class VehicleRig(BoxRig):
    """A BoxRig for a vehicle that closes what it started even when starting fails."""

    def __init__(
        self,
        workdir: Path,
        *,
        sim_args: tuple[str, ...] = (),
        vehicle: dict[str, Any] | None = None,
        sections: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        try:
            super().__init__(
                workdir,
                "vehicle",
                device_id=DEVICE,
                sim_args=sim_args,
                box_settings={
                    "vehicle": {**FAST, **(vehicle or {})},
                    "telemetry": {"interval_s": TELEMETRY_S},
                    **(sections or {}),
                },
            )
            self.start_agent()
        except BaseException:
            self.close()
            raise

    # --- commands -------------------------------------------------------------------

    def rent(self, order_id: str, tariff: dict[str, Any] | None = None) -> dict[str, Any]:
        """start_rental and unlock, both ok; the rental_started record."""
        self.ok("start_rental", order_id=order_id, renter="renter-7", tariff=tariff or TARIFF)
        self.ok("unlock", order_id=order_id)
        return self.wait_record("rental_started", order_id=order_id)

    # --- the car --------------------------------------------------------------------

    def readings(self, timeout: float = 15.0) -> dict[str, Any]:
        """The first snapshot from now on with every bus signal known."""

        def known(t: dict[str, Any]) -> bool:
            return all(t[name] is not None for name in KNOWN_SIGNALS) and t["lock"] in CONFIRMED

        return self.telemetry(known, timeout)

    def engine(self, running: bool) -> dict[str, Any]:
        self.sim.send(op="engine", running=running)
        return self.telemetry(lambda t: t["engine_running"] is running)

    def door(self, is_open: bool) -> dict[str, Any]:
        self.sim.send(op="door", open=is_open)
        return self.telemetry(lambda t: t["doors_closed"] is (not is_open))

    # --- what the cloud got ---------------------------------------------------------

    def records_in_arrival_order(self) -> list[dict[str, Any]]:
        """Each record once (its first arrival), in the order the cloud received them."""
        seen: dict[str, dict[str, Any]] = {}
        for record in self.on_topic("records"):
            seen.setdefault(record["record_id"], record)
        return list(seen.values())


def vehicle_rig(workdir: Path, **options: Any) -> contextlib.AbstractContextManager[VehicleRig]:
    """A VehicleRig, closed afterwards; fails if a process it started is still running."""
    return closed_after(VehicleRig(workdir, **options))


def seconds_between(earlier: str, later: str) -> float:
    """Between two RFC 3339 timestamps."""
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()


# --- invariants -----------------------------------------------------------------------


def expected_charges(ended: dict[str, Any], tariff: dict[str, Any]) -> dict[str, Any]:
    """Contract section 4, recomputed from the record's own numbers."""
    minutes = math.ceil(Decimal(ended["duration_s"]) / 60)
    time_cents = minutes * tariff["per_minute_cents"]
    used = Decimal(str(ended["fuel_start_pct"])) - Decimal(str(ended["fuel_end_pct"]))
    litres = Decimal(str(tariff["tank_litres"])) * used / 100
    fuel = litres * tariff["fuel_price_cents_per_litre"]
    fuel_cents = int(fuel.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return {
        "time_cents": time_cents,
        "fuel_cents": fuel_cents,
        "total_cents": time_cents + fuel_cents,
        "currency": tariff["currency"],
    }


def collapsed(states: list[str]) -> list[str]:
    out: list[str] = []
    for state in states:
        if not out or out[-1] != state:
            out.append(state)
    return out


def is_subsequence(short: list[str], long: list[str]) -> bool:
    remaining = iter(long)
    return all(any(item == other for other in remaining) for item in short)


def assert_lock_reports_seen_on_car(rig: VehicleRig, initial: str = "locked") -> None:
    """The box never reports a lock state the car did not have: the lock states in telemetry,
    in order, are a subsequence of the states the simulated car went through."""
    car = collapsed([initial] + [e["state"] for e in rig.sim_lines("lock")])
    reported = collapsed([t["lock"] for t in rig.on_topic("telemetry") if t["lock"] in CONFIRMED])
    assert is_subsequence(reported, car), (reported, car)

"""A whole rental end to end: signed commands over mosquitto, the agent as a process, the car
simulator over SLCAN on a pty; the rental_ended record and its charges to the cent."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from vehicle_rig import (
    DEVICE,
    TARIFF,
    assert_lock_reports_seen_on_car,
    expected_charges,
    vehicle_rig,
)

from testbed.rig import assert_agent_serving, assert_records_sound

ORDER = "order-e2e-1"


def test_a_whole_rental_is_charged_exactly(tmp_path: Path) -> None:
    with vehicle_rig(tmp_path) as rig:
        parked = rig.readings()
        assert (parked["fuel_pct"], parked["odometer_km"]) == (62.0, 12345.6)
        assert (parked["lock"], parked["start_enabled"], parked["rental"]) == (
            "locked",
            False,
            "none",
        )

        booked = rig.ok("start_rental", order_id=ORDER, renter="renter-7", tariff=TARIFF)
        assert booked["result"] == {"order_id": ORDER, "rental": "booked"}
        unlocked = rig.ok("unlock", order_id=ORDER)
        assert unlocked["result"] == {
            "lock": "unlocked",
            "start_enabled": True,
            "rental": "active",
            "as_commanded": [],
        }
        started = rig.wait_record("rental_started", order_id=ORDER)
        assert started["renter"] == "renter-7"
        assert (started["fuel_pct"], started["odometer_km"]) == (62.0, 12345.6)
        assert started["check"] == {
            "doors_closed": True,
            "lock": "locked",
            "ignition": False,
            "engine_running": False,
            "fault_codes": [],
        }
        assert rig.telemetry(lambda t: t["rental"] == "active")["lock"] == "unlocked"

        rig.engine(True)
        rig.sim.send(op="drive", km=12, fuel_pct_used=9.6, seconds=1.5)
        assert rig.telemetry(lambda t: (t["speed_kmh"] or 0) > 0)["engine_running"] is True
        rig.sim.wait_event("drive", timeout=15, done=True)
        rig.engine(False)
        # The cluster sends fuel and odometer once a second: wait until the box has both.
        rig.telemetry(lambda t: t["odometer_km"] == 12357.6 and t["fuel_pct"] == 52.4)

        locked = rig.ok("lock", order_id=ORDER)
        assert locked["result"] == {
            "lock": "locked",
            "start_enabled": False,
            "start_withdraw_pending": False,
            "as_commanded": [],
        }
        rig.ok("unlock", order_id=ORDER)
        ended = rig.ok("end_rental", order_id=ORDER)["result"]

        record = rig.wait_record("rental_ended", order_id=ORDER)
        assert ended == record
        assert ended["seq"] == 2
        assert ended["device_id"] == DEVICE
        assert ended["started_at"] == started["ts"]
        assert ended["ended_at"] == ended["ts"]
        assert (ended["fuel_start_pct"], ended["fuel_end_pct"]) == (62.0, 52.4)
        assert (ended["odometer_start_km"], ended["odometer_end_km"]) == (12345.6, 12357.6)
        assert ended["distance_km"] == 12.0
        assert Decimal(str(ended["distance_km"])) == Decimal("12.0")
        assert ended["check"] == {
            "doors_closed": True,
            "lock": "locked",
            "ignition": False,
            "engine_running": False,
            "fault_codes": [],
            "notes": [],
        }
        assert ended["duration_s"] >= 1
        assert ended["charges"] == expected_charges(ended, TARIFF)
        # 50 l * 9.6 % = 4.8 l at 189 c/l = 907.2 c -> 907; the test is seconds long: 1 minute.
        assert ended["charges"]["fuel_cents"] == 907
        assert ended["charges"]["time_cents"] == 25 * -(-ended["duration_s"] // 60)

        records = rig.records()
        assert [r["type"] for r in records] == ["rental_started", "rental_ended"]
        assert_records_sound(records, DEVICE)
        after = rig.telemetry(lambda t: t["rental"] == "none")
        assert (after["lock"], after["start_enabled"]) == ("locked", False)
        state = rig.sim.state()
        assert (state["lock"], state["start_enabled"]) == ("locked", False)
        assert state["counters"]["start_disabled_while_running"] == 0
        assert_lock_reports_seen_on_car(rig)
        assert_agent_serving(rig)

"""A car whose fuel, odometer and speed come from OBD-II polling, chosen by its signal profile
alone: the agent polls the simulated ECU over SLCAN, reads stored trouble codes into the
pre-use check, and lets OBD signals go unknown when the ECU stops answering."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from vehicle_rig import TARIFF, vehicle_rig

from firmware_protocol.can import profile as can_profile

POLL_S = 0.3
OBD_SIGNALS = ("fuel_pct", "odometer_km", "speed_kmh")


def obd_profile(directory: Path) -> Path:
    """The reference profile with the three gauges moved to OBD-II: configuration only."""
    reference = (can_profile.BUILTIN_DIR / "reference.toml").read_text()
    dbc = (can_profile.BUILTIN_DIR / "vehicle.dbc").resolve()
    text = reference.replace('dbc = "vehicle.dbc"', f'dbc = "{dbc}"')
    for name in OBD_SIGNALS:
        text = re.sub(
            rf'\[signals\.{name}\]\nsource = "can"\nmessage = "\w+"\nsignal = "\w+"\n',
            f'[signals.{name}]\nsource = "obd"\npoll_s = {POLL_S}\n',
            text,
        )
    assert text.count('source = "obd"') == len(OBD_SIGNALS)
    path = directory / "obd-car.toml"
    path.write_text(text)
    return path


def test_gauges_polled_over_obd_and_trouble_codes_in_the_check(tmp_path: Path) -> None:
    profile = obd_profile(tmp_path)
    sim_args = ("--profile", str(profile), "--dtcs", "P0301,C0035")
    with vehicle_rig(tmp_path, sim_args=sim_args, vehicle={"profile": str(profile)}) as rig:
        # OBD-II carries fuel as A·100/255: 62.0 % arrives as 61.96 %.
        first = rig.readings()
        assert (first["fuel_pct"], first["odometer_km"], first["speed_kmh"]) == (
            pytest.approx(61.96, abs=0.01),
            12345.6,
            0.0,
        )
        rig.sim.send(op="set", fuel_pct=40.0)
        rig.telemetry(lambda t: t["fuel_pct"] == pytest.approx(40.0, abs=0.4))

        rig.ok("start_rental", order_id="obd-1", renter="renter-7", tariff=TARIFF)
        rig.ok("unlock", order_id="obd-1")
        started = rig.wait_record("rental_started", order_id="obd-1")
        assert started["check"]["fault_codes"] == ["P0301", "C0035"]
        assert started["fuel_pct"] == pytest.approx(40.0, abs=0.4)

        rig.sim.send(op="fault", name="silent", on=True)
        gone = rig.telemetry(lambda t: all(t[name] is None for name in OBD_SIGNALS), timeout=10)
        assert gone["rental"] == "active"
        rig.sim.send(op="fault", name="silent", on=False)
        back = rig.telemetry(lambda t: all(t[name] is not None for name in OBD_SIGNALS))
        assert back["odometer_km"] == 12345.6

"""`edge-sim vehicle --profile` plays a real car from its opendbc DBC: the messages the profile
reads with the car's counters and checksums (checked by the same codec the agent runs), the
logical ops in the car's terms, and with --full-dbc every message of the DBC on the bus."""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator

import can
import pytest

from firmware_protocol.can import CanDecodeError, LogicalValue, VehicleCodec
from testbed.processes import SimProcess

pytest.importorskip("opendbc", reason="the example profiles read opendbc's DBCs")

FULL_DBC_CYCLE_MS = 200


def open_bus(sim: SimProcess) -> can.BusABC:
    connect = sim.connect
    return can.Bus(
        interface=connect["interface"],
        channel=connect["channel"],
        bitrate=connect["bitrate"],
        **connect["options"],
    )


def listen(bus: can.BusABC, seconds: float) -> Iterator[can.Message]:
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        message = bus.recv(left)
        if message is not None:
            yield message


def read_inputs(codec: VehicleCodec, bus: can.BusABC, seconds: float) -> dict[str, object]:
    """Every input as the agent would combine it from the frames of `seconds`; each frame's
    checksum and counter checked."""
    latest: dict[str, LogicalValue] = {}
    counters: dict[int, int] = {}
    bad: collections.Counter[str] = collections.Counter()
    for message in listen(bus, seconds):
        try:
            latest.update(codec.decode(message.arbitration_id, bytes(message.data), counters))
        except CanDecodeError as exc:
            bad[exc.reason] += 1
    assert not bad, bad
    return codec.combine(latest.get)


@pytest.mark.parametrize("profile", ["vw_golf_mk7", "hyundai_kia", "toyota_prius_2010"])
def test_full_dbc_mix_every_message_at_its_cycle(profile: str) -> None:
    codec = VehicleCodec.load(profile)
    every = {message.frame_id for message, _ in codec.full_broadcast()}
    args = ("--profile", profile, "--full-dbc", "--full-dbc-cycle-ms", str(FULL_DBC_CYCLE_MS))
    with SimProcess("vehicle", *args) as sim:
        bus = open_bus(sim)
        try:
            seen = collections.Counter(m.arbitration_id for m in listen(bus, 1.5))
        finally:
            bus.shutdown()
    assert set(seen) == every
    fastest = min(b.cycle_s for b in codec.broadcasts)
    by_cycle = {b.frame_id: b.cycle_s for b in codec.broadcasts}
    assert max(seen, key=lambda i: seen[i]) in {i for i, c in by_cycle.items() if c == fastest}


def test_a_car_in_its_own_units_and_messages() -> None:
    codec = VehicleCodec.load("hyundai_kia")
    with SimProcess("vehicle", "--profile", "hyundai_kia", "--fuel-pct", "50") as sim:
        bus = open_bus(sim)
        try:
            parked = read_inputs(codec, bus, 0.5)
            # 50 % of 31 bars is 15.5: 16 bars shown.
            assert parked["fuel_pct"] == round(1600 / 31, 3)
            assert (parked["engine_running"], parked["doors_closed"]) == (False, True)
            assert sim.state()["start_enabled"] is True  # nothing for a box to withhold

            sim.send(op="engine", running=True)
            sim.send(op="door", open=True, door="CF_Gway_RRDrSw")
            sim.wait_event("door")
            running = read_inputs(codec, bus, 0.5)
            assert (running["engine_running"], running["ignition"]) == (True, True)
            assert running["doors_closed"] is False
            assert sim.state()["engine_rpm"] > 400  # above the profile's threshold

            sim.send(op="set", fuel_pct=100.0, odometer_km=20000.0)
            sim.wait_event("set")
            full = read_inputs(codec, bus, 0.5)
            assert (full["fuel_pct"], full["odometer_km"]) == (100.0, 20000.0)
        finally:
            bus.shutdown()


def test_a_lock_request_without_a_counter_is_taken_every_time() -> None:
    codec = VehicleCodec.load("hyundai_kia")
    with SimProcess("vehicle", "--profile", "hyundai_kia", "--actuator-delay-ms", "0") as sim:
        bus = open_bus(sim)
        try:
            for name, state in (("unlock", "unlocked"), ("lock", "locked"), ("unlock", "unlocked")):
                arbitration_id, data = codec.encode_command(name, 0)
                bus.send(
                    can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=False)
                )
                assert sim.wait_event("command", name=name)["counter"] is None
                sim.wait_event("lock", state=state)
            assert sim.state()["counters"]["repeated_counters"] == 0
        finally:
            bus.shutdown()

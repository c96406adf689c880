"""What the simulated car shows: OBD-II answers (ISO 15765-4), drives, gauges set by a test,
doors; read over its CAN bus with python-can and the codecs, as the agent reads them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from processes import SimProcess
from vehicle_sim_client import ECU_REQUEST_ID, CarBus

from firmware_protocol.can import NOT_AVAILABLE
from firmware_protocol.obd import (
    ENGINE_SPEED,
    FUEL_LEVEL,
    ODOMETER,
    VEHICLE_SPEED,
    FlowControl,
    FlowStatus,
    NegativeResponseError,
    parse_current_data,
    parse_stored_dtcs,
    positive_response_data,
    request_current_data,
    request_stored_dtcs,
)

DTCS = ["P0301", "P0302", "C0035", "B1234", "U0100", "P0420", "P0171", "U0401", "B0001", "C1A2B"]
ALL_PIDS = (ENGINE_SPEED.number, VEHICLE_SPEED.number, FUEL_LEVEL.number, ODOMETER.number)
FUEL_OBD_RESOLUTION = 100 / 255


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    process = SimProcess("vehicle", "--dtcs", ",".join(DTCS), "--actuator-delay-ms", "50")
    yield process
    process.stop()


@pytest.fixture
def car(sim: SimProcess) -> Iterator[CarBus]:
    sim.state()
    with CarBus(sim.connect) as bus:
        bus.read("lock_state")
        yield bus


def read_pids(car: CarBus, *pids: int, request_id: int = 0x7DF) -> dict[int, float]:
    answer = car.obd(request_current_data(*pids), request_id=request_id)
    assert answer is not None, f"no answer to PIDs {pids}"
    return parse_current_data(answer)


def refusal(answer: bytes | None, service: int) -> int:
    """The NRC of a negative answer to `service`."""
    assert answer is not None
    with pytest.raises(NegativeResponseError) as refused:
        positive_response_data(answer, service)
    assert refused.value.service == service
    return refused.value.nrc


def test_pids_answer_the_current_values_functionally_and_physically(car: CarBus) -> None:
    for request_id in (0x7DF, ECU_REQUEST_ID):
        values = read_pids(car, *ALL_PIDS, request_id=request_id)
        assert list(values) == list(ALL_PIDS)
        assert values[ENGINE_SPEED.number] == 0.0
        assert values[VEHICLE_SPEED.number] == 0.0
        assert values[FUEL_LEVEL.number] == pytest.approx(62.0, abs=FUEL_OBD_RESOLUTION)
        assert values[ODOMETER.number] == 12345.6


def test_stored_dtcs_come_multi_frame_under_flow_control(sim: SimProcess, car: CarBus) -> None:
    seen: list[bytes] = []
    answer = car.obd(request_stored_dtcs(), block_size=2, st_min=2, seen=seen)
    assert answer is not None
    assert list(parse_stored_dtcs(answer)) == DTCS
    assert seen[0][0] >> 4 == 1  # a first frame, then consecutive frames
    assert len(seen) == 1 + -(-(2 + 2 * len(DTCS) - 6) // 7)

    seen.clear()
    assert car.obd(request_stored_dtcs(), flow_control=False, timeout=0.4, seen=seen) is None
    assert len(seen) == 1  # the first frame only: nothing goes on without flow control
    wait_obd = sim.state()["obd"]
    assert wait_obd["multi_frame_answers"] >= 2


def test_an_overflow_flow_control_ends_the_answer(car: CarBus) -> None:
    seen: list[bytes] = []
    assert car.obd(request_stored_dtcs(), flow_control=False, timeout=0.2, seen=seen) is None
    car.send(ECU_REQUEST_ID, FlowControl(FlowStatus.OVERFLOW).encode())
    assert [f for f in car.frames(0.3) if f.arbitration_id == 0x7E8] == []
    answer = car.obd(request_stored_dtcs())
    assert answer is not None
    assert list(parse_stored_dtcs(answer)) == DTCS


def test_a_short_dtc_list_is_a_single_frame(sim: SimProcess, car: CarBus) -> None:
    for codes in ([], ["P0301", "C0035"]):
        sim.send(op="dtcs", codes=codes)
        assert sim.wait_event("dtcs")["codes"] == codes
        seen: list[bytes] = []
        answer = car.obd(request_stored_dtcs(), seen=seen)
        assert answer is not None
        assert list(parse_stored_dtcs(answer)) == codes
        assert len(seen) == 1
    sim.send(op="dtcs", codes=DTCS)
    sim.wait_event("dtcs")


def test_unsupported_requests_are_unanswered_functionally_and_refused_physically(
    car: CarBus,
) -> None:
    unsupported_pid = request_current_data(0x05)
    unsupported_service = bytes([0x09, 0x02])
    assert car.obd(unsupported_pid, timeout=0.3) is None
    assert car.obd(unsupported_service, timeout=0.3) is None
    assert refusal(car.obd(unsupported_pid, request_id=ECU_REQUEST_ID), 0x01) == 0x31
    assert refusal(car.obd(unsupported_service, request_id=ECU_REQUEST_ID), 0x09) == 0x11
    assert read_pids(car, 0x05, VEHICLE_SPEED.number) == {VEHICLE_SPEED.number: 0.0}
    # Another ECU's physical id is not this ECU's business.
    assert (
        car.obd(request_current_data(VEHICLE_SPEED.number), request_id=0x7E1, timeout=0.3) is None
    )


def test_a_drive_moves_the_odometer_exactly_and_uses_fuel(sim: SimProcess, car: CarBus) -> None:
    before = sim.state()
    sim.send(op="engine", running=True)
    assert sim.wait_event("engine")["refused"] == "start_disabled"  # no start enable, no start
    car.command("start_enable")
    sim.wait_event("start_enable")
    sim.send(op="engine", running=True)
    assert sim.wait_event("engine") == {"event": "engine", "running": True, "ignition": True}
    car.wait_inputs(lambda inputs: inputs.get("engine_running") is True)
    assert read_pids(car, ENGINE_SPEED.number)[ENGINE_SPEED.number] > 500

    sim.send(op="drive", km=4.2, fuel_pct_used=2.0, seconds=1.5)
    assert sim.wait_event("drive")["done"] is False
    speed = car.wait_inputs(lambda inputs: inputs.get("speed_kmh", 0) != 0)["speed_kmh"]
    assert isinstance(speed, float)
    assert speed > 0
    assert read_pids(car, VEHICLE_SPEED.number)[VEHICLE_SPEED.number] > 0
    done = sim.wait_event("drive", done=True)
    assert done["odometer_km"] == pytest.approx(before["odometer_km"] + 4.2)
    assert done["fuel_pct"] == pytest.approx(before["fuel_pct"] - 2.0)
    latest = car.latest()
    assert latest["speed_kmh"] == 0.0
    assert latest["odometer_km"] == round(before["odometer_km"] + 4.2, 1)
    assert latest["fuel_pct"] == pytest.approx(before["fuel_pct"] - 2.0)
    values = read_pids(car, VEHICLE_SPEED.number, ODOMETER.number)
    assert values == {
        VEHICLE_SPEED.number: 0.0,
        ODOMETER.number: round(before["odometer_km"] + 4.2, 1),
    }

    sim.send(op="engine", running=False)
    assert sim.wait_event("engine") == {"event": "engine", "running": False, "ignition": False}
    car.wait_inputs(lambda inputs: inputs.get("ignition") is False)
    car.command("start_disable")
    assert sim.wait_event("start_enable")["engine_running"] is False
    assert sim.state()["counters"]["start_disabled_while_running"] == 0


def test_set_injects_readings_even_implausible_or_not_available(
    sim: SimProcess, car: CarBus
) -> None:
    sim.send(op="set", odometer_km=100.0, fuel_pct=30.0, speed_kmh=42.5)
    sim.wait_event("set")
    car.wait_inputs(lambda inputs: inputs.get("odometer_km") == 100.0)
    latest = car.latest()
    assert (latest["fuel_pct"], latest["speed_kmh"]) == (30.0, 42.5)
    values = read_pids(car, VEHICLE_SPEED.number, ODOMETER.number)
    assert values == {VEHICLE_SPEED.number: 42.0, ODOMETER.number: 100.0}

    sim.send(op="set", fuel_pct=None, speed_kmh=0)
    sim.wait_event("set")
    assert car.wait_inputs(lambda inputs: "fuel_pct" in inputs)["fuel_pct"] is NOT_AVAILABLE
    assert car.obd(request_current_data(FUEL_LEVEL.number), timeout=0.3) is None
    sim.send(op="set", fuel_pct=62.0, odometer_km=12345.6)
    sim.wait_event("set")


def test_doors_open_and_close(sim: SimProcess, car: CarBus) -> None:
    sim.send(op="door", open=True)
    assert sim.wait_event("door") == {
        "event": "door",
        "door": "DoorFL",
        "open": True,
        "doors_closed": False,
    }
    car.wait_inputs(lambda inputs: inputs.get("doors_closed") is False)
    sim.send(op="door", open=True, door="Tailgate")
    sim.send(op="door", open=False)
    sim.wait_event("door", door="DoorFL")
    assert sim.state()["doors"]["Tailgate"] == "open"
    assert car.read("doors_closed") is False
    sim.send(op="door", open=False, door="Tailgate")
    sim.wait_event("door", door="Tailgate")
    car.wait_inputs(lambda inputs: inputs.get("doors_closed") is True)

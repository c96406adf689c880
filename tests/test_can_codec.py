"""The reference vehicle codec: golden frames, round trips, and random frames.

The random-frame test runs 10^5 frames; for a longer fuzz multiply that with
CODEC_FUZZ_FACTOR, e.g. `CODEC_FUZZ_FACTOR=100 .venv/bin/pytest tests/test_can_codec.py -k random`.
"""

import os
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_protocol.can import (
    COMMANDS,
    NOT_AVAILABLE,
    CanDecodeError,
    CanEncodeError,
    Command,
    LogicalValue,
    VehicleCodec,
)
from firmware_protocol.can.checksum import sum8_id_inverted

NA = NOT_AVAILABLE
FUZZ_FRAMES = 100_000 * int(os.environ.get("CODEC_FUZZ_FACTOR", "1"))
CODEC = VehicleCodec.load("reference")

LOCK_COMMAND, START_COMMAND = 0x215, 0x216
ENGINE, SPEED, LOCK_STATUS, START_STATUS, FUEL, ODOMETER = 0x0C8, 0x0D0, 0x2A0, 0x2A1, 0x3E0, 0x3E1


def frame(hex_payload: str) -> bytes:
    return bytes.fromhex(hex_payload.replace(" ", ""))


# -- golden frames, worked out by hand from vehicle.dbc

GOLDEN_COMMANDS = [
    # checksum = ~(0x15 + 0x02 + counter + request) & 0xFF
    ("lock", 0, LOCK_COMMAND, "e7 00 01 00"),
    ("unlock", 3, LOCK_COMMAND, "e3 03 02 00"),
    ("start_enable", 15, START_COMMAND, "d7 0f 01 00"),
    ("start_disable", 16, START_COMMAND, "e5 00 02 00"),  # counter 16 wraps to 0
]


@pytest.mark.parametrize(("name", "counter", "frame_id", "payload"), GOLDEN_COMMANDS)
def test_golden_command_frames(name: str, counter: int, frame_id: int, payload: str) -> None:
    assert CODEC.encode_command(name, counter) == (frame_id, frame(payload))
    assert CODEC.decode_command(frame_id, frame(payload)) == Command(name, counter % 16)


GOLDEN_STATUS = [
    (FUEL, "7d 00 00 00 00 00 00 00", {"fuel_pct": 50.0}),
    (FUEL, "fa 00 00 00 00 00 00 00", {"fuel_pct": 100.0}),
    (FUEL, "ff 00 00 00 00 00 00 00", {"fuel_pct": NOT_AVAILABLE}),
    (FUEL, "fb 00 00 00 00 00 00 00", {"fuel_pct": NOT_AVAILABLE}),  # 100.4 %: out of range
    (ODOMETER, "40 e2 01 00 00 00 00 00", {"odometer_km": 12345.6}),
    (ODOMETER, "fe ff ff 00 00 00 00 00", {"odometer_km": 1677721.4}),
    (ODOMETER, "ff ff ff 00 00 00 00 00", {"odometer_km": NOT_AVAILABLE}),
    (SPEED, "6c 22 00 00 00 00 00 00", {"speed_kmh": 88.12}),
    (SPEED, "ff ff 00 00 00 00 00 00", {"speed_kmh": NOT_AVAILABLE}),
    (ENGINE, "11 00 80 0c 00 00 00 00", {"ignition": False, "engine_running": True}),  # ACC
    (ENGINE, "02 00 00 00 00 00 00 00", {"ignition": True, "engine_running": False}),  # ON
    (ENGINE, "37 00 ff ff 00 00 00 00", {"ignition": NA, "engine_running": NA}),
    # checksum = ~(id & 0xFF + id >> 8 + bytes 1..3) & 0xFF
    (LOCK_STATUS, "5b 01 01 00", {"lock_state": "locked", "doors_closed": True}),
    (LOCK_STATUS, "4b 02 00 10", {"lock_state": "unlocked", "doors_closed": False}),  # tailgate
    (LOCK_STATUS, "5a 00 03 00", {"lock_state": NOT_AVAILABLE, "doors_closed": True}),
    (LOCK_STATUS, "5b 00 02 00", {"lock_state": NOT_AVAILABLE, "doors_closed": True}),  # reserved
    (START_STATUS, "5a 01 01 00", {"start_enabled": True}),
    (START_STATUS, "59 03 00 00", {"start_enabled": False}),
    (START_STATUS, "57 02 03 00", {"start_enabled": NOT_AVAILABLE}),
]


@pytest.mark.parametrize(("frame_id", "payload", "values"), GOLDEN_STATUS)
def test_golden_status_frames(frame_id: int, payload: str, values: dict[str, LogicalValue]) -> None:
    assert CODEC.decode(frame_id, frame(payload)) == values
    assert CODEC.decode(frame_id, bytearray(frame(payload))) == values  # as python-can hands it


def test_encode_status_writes_the_golden_frame() -> None:
    values: dict[str, LogicalValue] = {"lock_state": "unlocked", "doors_closed": True}
    assert CODEC.encode_status("BCM_LockStatus", values, counter=2) == (
        LOCK_STATUS,
        frame("5b 02 00 00"),
    )
    engine: dict[str, LogicalValue] = {"ignition": False, "engine_running": True}
    assert CODEC.encode_status(
        "EMS_EngineStatus", engine, other_signals={"IgnitionState": "ACC", "EngineSpeed": 800}
    ) == (ENGINE, frame("11 00 80 0c 00 00 00 00"))


def test_reference_ids_and_cycle_times() -> None:
    assert CODEC.receive_ids == {ENGINE, SPEED, LOCK_STATUS, START_STATUS, FUEL, ODOMETER}
    assert CODEC.command_ids == {LOCK_COMMAND, START_COMMAND}
    assert dict(CODEC.cycle_s) == {
        "fuel_pct": 1.0,
        "odometer_km": 1.0,
        "speed_kmh": 0.05,
        "ignition": 0.1,
        "engine_running": 0.1,
        "doors_closed": 0.1,
        "lock_state": 0.1,
        "start_enabled": 0.1,
    }
    assert {b.message: (b.frame_id, b.cycle_s) for b in CODEC.broadcasts} == {
        "EMS_EngineStatus": (ENGINE, 0.1),
        "ESP_VehicleSpeed": (SPEED, 0.05),
        "BCM_LockStatus": (LOCK_STATUS, 0.1),
        "BCM_StartEnableStatus": (START_STATUS, 0.1),
        "IC_FuelLevel": (FUEL, 1.0),
        "IC_Odometer": (ODOMETER, 1.0),
    }
    assert CODEC.obd_inputs == {}


# -- what decoding refuses


def test_unknown_ids_decode_to_nothing() -> None:
    assert CODEC.decode(0x123, b"\x00" * 8) == {}
    assert CODEC.decode(LOCK_COMMAND, frame("e7 00 01 00")) == {}  # a command, not an input
    assert CODEC.decode_command(FUEL, b"\x00" * 8) is None


@pytest.mark.parametrize(
    ("frame_id", "payload"),
    [
        (FUEL, "7d 00 00 00 00 00 00"),  # 7 bytes, 8 in the DBC
        (FUEL, "7d 00 00 00 00 00 00 00 00"),
        (LOCK_STATUS, "5b 01 01"),
        (LOCK_STATUS, "5c 01 01 00"),  # checksum off by one
        (LOCK_STATUS, "5b 01 01 01"),  # a door bit flipped after the checksum was made
        (START_STATUS, ""),
    ],
)
def test_bad_frames_raise_decode_error(frame_id: int, payload: str) -> None:
    with pytest.raises(CanDecodeError):
        CODEC.decode(frame_id, frame(payload))


@pytest.mark.parametrize(
    ("frame_id", "payload"),
    [
        (LOCK_COMMAND, "e8 00 01 00"),  # bad checksum
        (LOCK_COMMAND, "e8 00 00 00"),  # NO_REQUEST: carries no command
        (START_COMMAND, "d7 0f 01"),  # short
        (START_COMMAND, "e7 00 01 00"),  # the lock frame's checksum covers the id
    ],
)
def test_bad_command_frames_raise_decode_error(frame_id: int, payload: str) -> None:
    with pytest.raises(CanDecodeError):
        CODEC.decode_command(frame_id, frame(payload))


def test_errors_are_value_errors() -> None:
    assert issubclass(CanDecodeError, ValueError)
    assert issubclass(CanEncodeError, ValueError)


# -- what encoding refuses

ALL_VALUES: dict[str, LogicalValue] = {
    "fuel_pct": 50.0,
    "odometer_km": 10.0,
    "speed_kmh": 0.0,
    "ignition": False,
    "engine_running": False,
    "doors_closed": True,
    "lock_state": "locked",
    "start_enabled": False,
}


@pytest.mark.parametrize(
    ("message", "changes"),
    [
        ("IC_FuelLevel", {"fuel_pct": 100.5}),
        ("IC_FuelLevel", {"fuel_pct": -1}),
        ("IC_FuelLevel", {"fuel_pct": float("nan")}),
        ("IC_FuelLevel", {"fuel_pct": "full"}),
        ("IC_FuelLevel", {"fuel_pct": True}),
        ("IC_Odometer", {"odometer_km": 1677721.5}),
        ("BCM_LockStatus", {"lock_state": "fault"}),
        ("BCM_LockStatus", {"doors_closed": 1}),
        ("BCM_LockStatus", {"lock_state": True}),
        ("EMS_EngineStatus", {"ignition": None}),
        ("EMS_EngineStatus", {"ignition": [True]}),
        ("BCM_LockStatus", {"doors_closed": NOT_AVAILABLE}),  # door switches have no SNA
        ("BOX_LockCommand", {}),  # not a broadcast
    ],
)
def test_encode_status_refuses(message: str, changes: dict[str, LogicalValue]) -> None:
    with pytest.raises(CanEncodeError):
        CODEC.encode_status(message, {**ALL_VALUES, **changes})


def test_encode_status_needs_every_input_the_message_carries() -> None:
    with pytest.raises(CanEncodeError, match="lock_state"):
        CODEC.encode_status("BCM_LockStatus", {"doors_closed": True})


@pytest.mark.parametrize(
    "other_signals",
    [{"Nope": 1}, {"EngineSpeed": 20000}, {"IgnitionState": "TURBO"}, {"EngineSpeed": "x"}],
)
def test_encode_status_refuses_bad_other_signals(other_signals: dict[str, float | str]) -> None:
    with pytest.raises(CanEncodeError):
        CODEC.encode_status("EMS_EngineStatus", ALL_VALUES, other_signals=other_signals)


def test_encode_command_refuses_an_unknown_command() -> None:
    with pytest.raises(CanEncodeError):
        CODEC.encode_command("self_destruct", 0)


# -- round trips


@given(st.sampled_from(COMMANDS), st.integers(-(10**6), 10**6))
def test_command_round_trip(name: str, counter: int) -> None:
    frame_id, payload = CODEC.encode_command(name, counter)
    assert frame_id in CODEC.command_ids
    assert CODEC.decode(frame_id, payload) == {}
    assert CODEC.decode_command(frame_id, payload) == (name, counter % 16)


def _grid(top: int, scale: float, digits: int) -> st.SearchStrategy[LogicalValue]:
    """Physical values on the signal's raw grid, or NOT_AVAILABLE."""
    numbers = st.integers(0, top).map(lambda raw: round(raw * scale, digits))
    return numbers | st.just(NOT_AVAILABLE)


def _state(*values: LogicalValue) -> st.SearchStrategy[LogicalValue]:
    return st.sampled_from(values)


LOGICAL_VALUES = st.fixed_dictionaries(
    {
        "fuel_pct": _grid(250, 0.4, 1),
        "odometer_km": _grid(0xFFFFFE, 0.1, 1),
        "speed_kmh": _grid(0xFFFE, 0.01, 2),
        "ignition": _state(True, False, NOT_AVAILABLE),
        "engine_running": _state(True, False, NOT_AVAILABLE),
        "doors_closed": _state(True, False),
        "lock_state": _state("locked", "unlocked", NOT_AVAILABLE),
        "start_enabled": _state(True, False, NOT_AVAILABLE),
    }
)


@given(LOGICAL_VALUES, st.integers(0, 1000))
def test_status_round_trip(values: dict[str, LogicalValue], counter: int) -> None:
    decoded: dict[str, LogicalValue] = {}
    for broadcast in CODEC.broadcasts:
        frame_id, payload = CODEC.encode_status(broadcast.message, values, counter=counter)
        assert frame_id == broadcast.frame_id
        decoded |= CODEC.decode(frame_id, payload)
    assert decoded == values


@given(st.floats(0, 100))
def test_any_fuel_level_decodes_to_the_nearest_step(fuel_pct: float) -> None:
    frame_id, payload = CODEC.encode_status("IC_FuelLevel", {"fuel_pct": fuel_pct})
    decoded = CODEC.decode(frame_id, payload)["fuel_pct"]
    assert isinstance(decoded, float)
    assert abs(decoded - fuel_pct) <= 0.2 + 1e-9


@given(st.lists(st.booleans(), min_size=5, max_size=5))
def test_doors_closed_iff_every_door_is_closed(doors_open: list[bool]) -> None:
    doors = dict(zip(["DoorFL", "DoorFR", "DoorRL", "DoorRR", "Tailgate"], doors_open, strict=True))
    values: dict[str, LogicalValue] = {"lock_state": "locked", "doors_closed": True}
    frame_id, payload = CODEC.encode_status(
        "BCM_LockStatus", values, other_signals={d: int(o) for d, o in doors.items()}
    )
    assert CODEC.decode(frame_id, payload)["doors_closed"] is not any(doors_open)


# -- random frames: decoding raises nothing but CanDecodeError


def _random_frames(rng: random.Random, count: int) -> list[tuple[int, bytes]]:
    """Frames of known and random ids, of any length; half of the rest get a correct checksum."""
    known = sorted(CODEC.receive_ids | CODEC.command_ids)
    frames = []
    for _ in range(count):
        frame_id = rng.choice(known) if rng.random() < 0.9 else rng.randrange(0x800)
        payload = bytearray(rng.randbytes(rng.choice([0, 3, 4, 4, 4, 5, 8, 8, 8, 8])))
        if payload and rng.random() < 0.5:
            payload[0] = sum8_id_inverted(frame_id, payload, 0, 0, ())
        frames.append((frame_id, bytes(payload)))
    return frames


def test_random_frames_raise_only_decode_errors() -> None:
    outcomes = {"decoded": 0, "refused": 0, "commands": 0}
    for frame_id, payload in _random_frames(random.Random(20261123), FUZZ_FRAMES):
        try:
            values = CODEC.decode(frame_id, payload)
            outcomes["decoded"] += bool(values)
        except CanDecodeError:
            outcomes["refused"] += 1
        try:
            outcomes["commands"] += CODEC.decode_command(frame_id, payload) is not None
        except CanDecodeError:
            outcomes["refused"] += 1
    assert all(outcomes.values())  # every path was taken

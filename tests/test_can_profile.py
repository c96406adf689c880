"""Signal profiles: the reference, another car plugged in by configuration, errors name the key."""

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware_protocol.can import (
    COMMANDS,
    INPUTS,
    NOT_AVAILABLE,
    CanDecodeError,
    CanInput,
    Command,
    LogicalValue,
    ObdInput,
    ProfileError,
    VehicleCodec,
    load_profile,
    parse_profile,
)
from firmware_protocol.obd import FUEL_LEVEL, ODOMETER

REFERENCE = Path(__file__).parent.parent / "firmware_protocol" / "can" / "reference.toml"


def test_reference_profile_by_name_and_by_path() -> None:
    by_name = load_profile("reference")
    assert by_name == load_profile(REFERENCE) == load_profile(str(REFERENCE))
    assert by_name.name == "reference"
    assert by_name.dbc == REFERENCE.parent / "vehicle.dbc"
    assert set(by_name.inputs) == set(INPUTS)
    assert set(by_name.commands) == set(COMMANDS)
    assert all(isinstance(i, CanInput) for i in by_name.inputs.values())
    doors = by_name.inputs["doors_closed"]
    assert isinstance(doors, CanInput)
    assert doors.signals == ("DoorFL", "DoorFR", "DoorRL", "DoorRR", "Tailgate")
    with pytest.raises(AttributeError):
        by_name.name = "other"  # type: ignore[misc]


# -- another car: Motorola byte order, XOR checksum, two doors, fuel and odometer over OBD-II

OTHER_DBC = """\
VERSION ""

NS_ :

BS_:

BU_: TCU BODY DASH

BO_ 1040 Body_State: 8 BODY
 SG_ Body_Crc : 7|8@0+ (1,0) [0|255] "" TCU
 SG_ Body_Alive : 11|4@0+ (1,0) [0|15] "" TCU
 SG_ CentralLock : 23|3@0+ (1,0) [0|4] "" TCU
 SG_ DriverDoorAjar : 31|1@0+ (1,0) [0|1] "" TCU
 SG_ PassengerDoorAjar : 30|1@0+ (1,0) [0|1] "" TCU
 SG_ Ign : 39|2@0+ (1,0) [0|1] "" TCU
 SG_ EngOn : 37|1@0+ (1,0) [0|1] "" TCU
 SG_ Immo : 36|1@0+ (1,0) [0|1] "" TCU

BO_ 1041 Dash_Speed: 2 DASH
 SG_ Speed : 7|16@0+ (0.1,0) [0|300] "km/h" TCU

BO_ 1536 TCU_Cmd: 3 TCU
 SG_ Cmd_Crc : 7|8@0+ (1,0) [0|255] "" BODY
 SG_ Cmd_Alive : 11|4@0+ (1,0) [0|15] "" BODY
 SG_ Cmd_Door : 17|2@0+ (1,0) [0|2] "" BODY
 SG_ Cmd_Immo : 19|2@0+ (1,0) [0|2] "" BODY

BA_DEF_ BO_ "GenMsgCycleTime" INT 0 10000;
BA_DEF_DEF_ "GenMsgCycleTime" 0;
BA_ "GenMsgCycleTime" BO_ 1040 200;
BA_ "GenMsgCycleTime" BO_ 1041 20;
VAL_ 1040 CentralLock 0 "OPEN" 2 "CLOSED" 4 "DOUBLE" 7 "INVALID" ;
VAL_ 1040 Ign 0 "OFF" 1 "RUN" 3 "INVALID" ;
VAL_ 1041 Speed 65535 "INVALID" ;
VAL_ 1536 Cmd_Door 1 "LOCK" 2 "UNLOCK" ;
VAL_ 1536 Cmd_Immo 1 "ALLOW" 2 "DENY" ;
"""

OTHER_PROFILE = """\
name = "other-car"
dbc = "other.dbc"
not_available_choices = ["INVALID"]

[signals.fuel_pct]
source = "obd"
poll_s = 2.5

[signals.odometer_km]
source = "obd"

[signals.speed_kmh]
message = "Dash_Speed"
signal = "Speed"

[signals.ignition]
message = "Body_State"
signal = "Ign"
values = { true = [1], false = [0] }

[signals.engine_running]
message = "Body_State"
signal = "EngOn"
values = { true = [1], false = [0] }

[signals.doors_closed]
message = "Body_State"
signals = ["DriverDoorAjar", "PassengerDoorAjar"]
values = { true = [0], false = [1] }

[signals.lock_state]
message = "Body_State"
signal = "CentralLock"
values = { locked = ["CLOSED", "DOUBLE"], unlocked = ["OPEN"] }

[signals.start_enabled]
message = "Body_State"
signal = "Immo"
values = { true = [1], false = [0] }

[commands.lock]
message = "TCU_Cmd"
set = { Cmd_Door = "LOCK", Cmd_Immo = 0 }

[commands.unlock]
message = "TCU_Cmd"
set = { Cmd_Door = "UNLOCK", Cmd_Immo = 0 }

[commands.start_enable]
message = "TCU_Cmd"
set = { Cmd_Door = 0, Cmd_Immo = "ALLOW" }

[commands.start_disable]
message = "TCU_Cmd"
set = { Cmd_Door = 0, Cmd_Immo = "DENY" }

[protected.Body_State]
counter = "Body_Alive"
checksum = "Body_Crc"
algorithm = "xor8_id"

[protected.TCU_Cmd]
counter = "Cmd_Alive"
checksum = "Cmd_Crc"
algorithm = "xor8_id"
"""


@pytest.fixture(scope="module")
def other_car(tmp_path_factory: pytest.TempPathFactory) -> VehicleCodec:
    directory = tmp_path_factory.mktemp("other-car")
    (directory / "other.dbc").write_text(OTHER_DBC)
    (directory / "other.toml").write_text(OTHER_PROFILE)
    return VehicleCodec.load(directory / "other.toml")


def test_other_car_decodes_its_own_frames(other_car: VehicleCodec) -> None:
    # alive 5, CentralLock CLOSED, doors shut, Ign RUN, EngOn, Immo;
    # checksum 0x10 ^ 0x04 ^ 0x05 ^ 0x40 ^ 0x70 = 0x21
    body = bytes.fromhex("21 05 40 00 70 00 00 00")
    assert other_car.decode(0x410, body) == {
        "ignition": True,
        "engine_running": True,
        "doors_closed": True,
        "lock_state": "locked",
        "start_enabled": True,
    }
    # alive 0, CentralLock INVALID, passenger door ajar, Ign INVALID: 0x14 ^ 0xE0 ^ 0x40 ^ 0xC0
    body = bytes.fromhex("74 00 e0 40 c0 00 00 00")
    assert other_car.decode(0x410, body) == {
        "ignition": NOT_AVAILABLE,
        "engine_running": False,
        "doors_closed": False,
        "lock_state": NOT_AVAILABLE,
        "start_enabled": False,
    }
    assert other_car.decode(0x411, bytes.fromhex("03 71")) == {"speed_kmh": 88.1}
    assert other_car.decode(0x411, bytes.fromhex("0b b9")) == {"speed_kmh": NOT_AVAILABLE}  # 300.1
    assert other_car.decode(0x3E0, bytes(8)) == {}  # the reference car's fuel frame
    with pytest.raises(CanDecodeError):
        other_car.decode(0x410, bytes.fromhex("20 05 40 00 70 00 00 00"))


def test_other_car_commands(other_car: VehicleCodec) -> None:
    # alive 9, Cmd_Door UNLOCK; checksum 0x00 ^ 0x06 ^ 0x09 ^ 0x02 = 0x0D
    assert other_car.encode_command("unlock", 25) == (0x600, bytes.fromhex("0d 09 02"))
    assert other_car.decode_command(0x600, bytes.fromhex("0d 09 02")) == Command("unlock", 9)
    for counter, name in enumerate(COMMANDS):
        frame_id, payload = other_car.encode_command(name, counter)
        assert other_car.decode_command(frame_id, payload) == (name, counter)


def test_other_car_ids_cycles_and_obd_inputs(other_car: VehicleCodec) -> None:
    assert other_car.receive_ids == {0x410, 0x411}
    assert other_car.command_ids == {0x600}
    assert other_car.obd_inputs == {
        "fuel_pct": ObdInput("fuel_pct", FUEL_LEVEL.number, 2.5),
        "odometer_km": ObdInput("odometer_km", ODOMETER.number, 1.0),
    }
    assert other_car.cycle_s == {
        "fuel_pct": 2.5,
        "odometer_km": 1.0,
        "speed_kmh": 0.02,
        "ignition": 0.2,
        "engine_running": 0.2,
        "doors_closed": 0.2,
        "lock_state": 0.2,
        "start_enabled": 0.2,
    }


@given(
    st.fixed_dictionaries(
        {
            "speed_kmh": st.integers(0, 3000).map(lambda raw: raw / 10) | st.just(NOT_AVAILABLE),
            "ignition": st.sampled_from([True, False, NOT_AVAILABLE]),
            "engine_running": st.booleans(),
            "doors_closed": st.booleans(),
            "lock_state": st.sampled_from(["locked", "unlocked", NOT_AVAILABLE]),
            "start_enabled": st.booleans(),
        }
    ),
    st.integers(0, 99),
)
def test_other_car_status_round_trip(
    other_car: VehicleCodec, values: dict[str, LogicalValue], counter: int
) -> None:
    decoded: dict[str, LogicalValue] = {}
    for broadcast in other_car.broadcasts:
        message = broadcast.message
        decoded |= other_car.decode(*other_car.encode_status(message, values, counter=counter))
    assert decoded == values


# -- errors name the key

Document = dict[str, Any]


def _reference_document() -> Document:
    return tomllib.loads(REFERENCE.read_text())


def _set(path: str, value: object) -> Any:
    def change(document: Document) -> None:
        *parents, last = path.split(".")
        for part in parents:
            document = document[part]
        document[last] = value

    return change


def _delete(path: str) -> Any:
    def change(document: Document) -> None:
        *parents, last = path.split(".")
        for part in parents:
            document = document[part]
        del document[last]

    return change


ENGINE_FROM_IGNITION = {"message": "EMS_EngineStatus", "signal": "IgnitionState"}

LOCK_FROM_THE_COUNTER = {
    "message": "BCM_LockStatus",
    "signal": "LockSts_Counter",
    "values": {"locked": [1], "unlocked": [0]},
}

BROKEN_PROFILES = [
    (_delete("dbc"), "dbc"),
    (_set("dbc", "missing.dbc"), "dbc"),
    (_set("dbc", "reference.toml"), "dbc"),  # not a DBC
    (_set("colour", "red"), "colour"),
    (_delete("signals.fuel_pct"), "signals.fuel_pct"),
    (_set("signals.fuel_pct.colour", "red"), "signals.fuel_pct.colour"),
    (_set("signals.speed", {}), "signals.speed"),
    (_set("signals.fuel_pct.source", "lin"), "signals.fuel_pct.source"),
    (_set("signals.ignition.source", "obd"), "signals.ignition.source"),
    (_set("signals.fuel_pct.message", "Nope"), "signals.fuel_pct.message"),
    (_set("signals.fuel_pct.message", 42), "signals.fuel_pct.message"),
    (_set("signals.fuel_pct.signal", "Nope"), "signals.fuel_pct.signal"),
    (_set("signals.fuel_pct.signal", "EngineSpeed"), "signals.fuel_pct.signal"),
    (_set("signals.fuel_pct.unit", "gallons"), "signals.fuel_pct.unit"),
    (_set("signals.fuel_pct.unit", "l"), "signals.fuel_pct.tank_litres"),
    (
        _set("signals.engine_running", {**ENGINE_FROM_IGNITION, "above": 1}),
        "signals.engine_running.signal",
    ),  # a threshold on a state
    (_set("signals.engine_running.above", "fast"), "signals.engine_running.above"),
    (_set("signals.ignition.values.true", ["MAYBE"]), "signals.ignition.values.true"),
    (_set("signals.ignition.values.true", [8]), "signals.ignition.values.true"),  # 3 bits
    (_set("signals.ignition.values.true", [True]), "signals.ignition.values.true"),
    (_set("signals.ignition.values.true", []), "signals.ignition.values.true"),
    (_set("signals.ignition.values.false", ["ON"]), "signals.ignition.values.false"),  # twice
    (_delete("signals.ignition.values.false"), "signals.ignition.values.false"),
    (_set("signals.ignition.values.maybe", [5]), "signals.ignition.values.maybe"),
    (_delete("signals.ignition.values"), "signals.ignition.values"),
    (_set("signals.doors_closed.signals", []), "signals.doors_closed.signals"),
    (_set("signals.doors_closed.signals", ["DoorFL", "Boot"]), "signals.doors_closed.signals"),
    (_set("signals.lock_state", LOCK_FROM_THE_COUNTER), "signals.lock_state"),
    (_set("signals.fuel_pct", {"source": "obd", "poll_s": 0}), "signals.fuel_pct.poll_s"),
    (_set("signals.fuel_pct", {"source": "obd", "poll_s": "1"}), "signals.fuel_pct.poll_s"),
    (_delete("commands.unlock"), "commands.unlock"),
    (_set("commands.honk", {}), "commands.honk"),
    (_set("commands.lock.set", {}), "commands.lock.set"),
    (_set("commands.lock.set.LockRequest", "SMASH"), "commands.lock.set.LockRequest"),
    (_set("commands.lock.set.Nope", 1), "commands.lock.set"),
    (_set("commands.lock.set.LockCmd_Counter", 1), "commands.lock.set"),
    (_set("commands.unlock.set.LockRequest", "LOCK"), "commands.unlock.set"),
    (_set("commands.lock.message", "Nope"), "commands.lock.message"),
    (
        _set("protected.Nope", {"counter": "a", "checksum": "b", "algorithm": "xor8_id"}),
        "protected.Nope",
    ),
    (_set("protected.BOX_LockCommand.algorithm", "crc99"), "protected.BOX_LockCommand.algorithm"),
    (_set("protected.BOX_LockCommand.counter", "Nope"), "protected.BOX_LockCommand.counter"),
    (
        _set("protected.BOX_LockCommand.checksum", "LockRequest"),
        "protected.BOX_LockCommand.checksum",
    ),
    (_delete("protected.BOX_LockCommand.checksum"), "protected.BOX_LockCommand.checksum"),
]


@pytest.mark.parametrize(("change", "key"), BROKEN_PROFILES)
def test_profile_errors_name_the_key(change: Any, key: str) -> None:
    document = copy.deepcopy(_reference_document())
    change(document)
    with pytest.raises(ProfileError) as caught:
        VehicleCodec(parse_profile(document, REFERENCE))
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key}: ")


def test_unreadable_profiles(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match=r"^profile: "):
        load_profile(tmp_path / "absent.toml")
    with pytest.raises(ProfileError, match=r"^profile: "):
        load_profile("no-such-builtin")
    (tmp_path / "bad.toml").write_text("dbc = [")
    with pytest.raises(ProfileError, match=r"^profile: "):
        load_profile(tmp_path / "bad.toml")


def test_a_broken_dbc_names_the_dbc(tmp_path: Path) -> None:
    (tmp_path / "other.dbc").write_text("garbage {{{")
    (tmp_path / "other.toml").write_text(OTHER_PROFILE)
    with pytest.raises(ProfileError, match=r"^dbc: "):
        VehicleCodec.load(tmp_path / "other.toml")

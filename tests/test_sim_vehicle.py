"""`edge-sim vehicle` as a real process: its stdin and stdout, and its CAN bus opened with
python-can's slcan interface as the agent opens it (contract section 8)."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Iterator
from typing import cast

import pytest
from processes import SimProcess
from vehicle_sim_client import CODEC, STATUS_IDS, CarBus

from firmware_protocol.can import CanDecodeError
from firmware_protocol.can.dbc import load_database
from firmware_protocol.obd import FUNCTIONAL_REQUEST_ID, PHYSICAL_REQUEST_IDS, RESPONSE_IDS
from sim.vehicle.ops import FAULTS, OPS

DELAY_S = 0.2
CONNECT_KEYS = {"interface", "channel", "bitrate", "options"}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    process = SimProcess("vehicle", "--actuator-delay-ms", str(DELAY_S * 1000))
    yield process
    assert process.stop() == 0


@pytest.fixture
def car(sim: SimProcess) -> Iterator[CarBus]:
    """The bus opened afresh for each test, once frames flow; the simulator's earlier lines read."""
    sim.state()
    with CarBus(sim.connect) as bus:
        bus.read("lock_state")
        yield bus


def wait_event(sim: SimProcess, event: str, **fields: object) -> dict[str, object]:
    """Like SimProcess.wait_event, for events with a `name` field too."""
    return sim.wait_for(
        lambda e: e.get("event") == event and all(e.get(k) == v for k, v in fields.items())
    )


def counters(sim: SimProcess) -> dict[str, int]:
    counts: dict[str, int] = sim.state()["counters"]
    return counts


def test_ready_line_and_every_broadcast_at_its_cycle_with_the_initial_values() -> None:
    sim = SimProcess("vehicle", "--fuel-pct", "48.4", "--odometer-km", "777.7")
    try:
        assert set(sim.connect) == CONNECT_KEYS
        assert sim.connect["interface"] == "slcan"
        assert sim.connect["channel"].startswith("/dev/pts/")
        assert sim.connect["bitrate"] == 500_000
        assert sim.connect["options"] == {"sleep_after_open": 0}
        with CarBus(sim.connect) as bus:
            bus.read("lock_state")
            window = 2.0
            frames = bus.frames(window)
        counts = Counter(msg.arbitration_id for msg in frames)
        for broadcast in CODEC.broadcasts:
            expected = window / broadcast.cycle_s
            assert abs(counts[broadcast.frame_id] - expected) <= max(0.4 * expected, 1), (
                broadcast.message,
                counts[broadcast.frame_id],
            )
        values: dict[str, object] = {}
        for msg in frames:
            values.update(CODEC.decode(msg.arbitration_id, bytes(msg.data)))
        assert values == {
            "fuel_pct": 48.4,
            "odometer_km": 777.7,
            "speed_kmh": 0.0,
            "ignition": False,
            "engine_running": False,
            "doors_closed": True,
            "lock_state": "locked",
            "start_enabled": False,
        }
        sim.proc.stdin.close()  # type: ignore[union-attr]
        assert sim.proc.wait(10) == 0
        assert sim.raw[-1].strip() == '{"event":"sim.stopped"}'
    finally:
        sim.kill()


def test_the_rolling_counter_of_a_protected_status_counts_every_frame(car: CarBus) -> None:
    lock_status = load_database(CODEC.profile.dbc).get_message_by_name("BCM_LockStatus")
    sent = [m for m in car.frames(0.5) if m.arbitration_id == lock_status.frame_id]
    raw = [cast("dict[str, int]", lock_status.decode(bytes(m.data), scaling=False)) for m in sent]
    counters_seen = [signals["LockSts_Counter"] for signals in raw]
    assert len(counters_seen) >= 3
    assert all((b - a) % 16 == 1 for a, b in itertools.pairwise(counters_seen))


def test_unlock_moves_the_lock_after_the_actuator_delay(sim: SimProcess, car: CarBus) -> None:
    sent_at = time.monotonic()
    command = CODEC.decode_command(*car.command("unlock"))
    assert command is not None
    assert wait_event(sim, "command", name="unlock")["counter"] == command.counter
    car.wait_inputs(lambda inputs: inputs.get("lock_state") == "unlocked")
    assert time.monotonic() - sent_at >= DELAY_S
    assert sim.wait_event("lock")["state"] == "unlocked"

    car.command("lock")
    wait_event(sim, "command", name="lock")
    assert sim.wait_event("lock") == {"event": "lock", "state": "locked", "changed": True}
    car.wait_inputs(lambda inputs: inputs.get("lock_state") == "locked")


def test_a_repeated_command_re_confirms_the_state(sim: SimProcess, car: CarBus) -> None:
    assert car.read("lock_state") == "locked"
    car.command("lock")
    assert sim.wait_event("lock") == {"event": "lock", "state": "locked", "changed": False}
    assert car.read("lock_state") == "locked"


def test_start_enable_and_disable(sim: SimProcess, car: CarBus) -> None:
    car.command("start_enable")
    wait_event(sim, "command", name="start_enable")
    event = sim.wait_event("start_enable")
    assert event["enabled"] is True
    car.wait_inputs(lambda inputs: inputs.get("start_enabled") is True)

    car.command("start_disable")
    assert sim.wait_event("start_enable")["enabled"] is False
    car.wait_inputs(lambda inputs: inputs.get("start_enabled") is False)
    assert counters(sim)["start_disabled_while_running"] == 0


def test_a_command_with_a_bad_checksum_is_dropped_and_counted(sim: SimProcess, car: CarBus) -> None:
    before = counters(sim)
    first_line = len(sim.seen)
    arbitration_id, data = CODEC.encode_command("unlock", 7)
    spoiled = bytes([data[0] ^ 0x01, *data[1:]])
    with pytest.raises(CanDecodeError):
        CODEC.decode_command(arbitration_id, spoiled)
    car.send(arbitration_id, spoiled)
    event = sim.wait_event("bad_frame")
    assert (event["id"], event["data"], event["reason"]) == (arbitration_id, spoiled.hex(), "codec")
    time.sleep(2 * DELAY_S)
    after = counters(sim)
    assert after["bad_frames"] == before["bad_frames"] + 1
    assert after["commands_received"] == before["commands_received"]
    assert car.read("lock_state") == "locked"
    assert not [e for e in sim.seen[first_line:] if e["event"] in ("command", "lock")]


def test_a_command_repeating_the_last_counter_is_dropped(sim: SimProcess, car: CarBus) -> None:
    command = CODEC.decode_command(*car.command("lock"))
    assert command is not None
    sim.wait_event("lock")
    car.send(*CODEC.encode_command("unlock", command.counter))
    event = sim.wait_event("bad_frame")
    assert event["reason"] == "repeated_counter"
    time.sleep(2 * DELAY_S)
    assert car.read("lock_state") == "locked"
    assert counters(sim)["repeated_counters"] >= 1


@pytest.mark.parametrize(
    ("fault", "command", "signal_name", "moved"),
    [
        ("lock_stuck", "unlock", "lock_state", "unlocked"),
        ("start_stuck", "start_enable", "start_enabled", True),
    ],
)
def test_a_stuck_actuator_hears_commands_and_does_not_move(
    sim: SimProcess, car: CarBus, fault: str, command: str, signal_name: str, moved: object
) -> None:
    sim.send(op="fault", name=fault, on=True)
    wait_event(sim, "fault", name=fault, on=True)
    car.command(command)
    wait_event(sim, "command", name=command)
    stuck = sim.wait_event("stuck")
    assert stuck["command"] == command
    seen = {car.read(signal_name) for _ in range(3)}
    assert moved not in seen

    sim.send(op="fault", name=fault, on=False)
    wait_event(sim, "fault", name=fault, on=False)
    car.command(command)
    car.wait_inputs(lambda inputs: inputs.get(signal_name) == moved)
    opposite = {"unlock": "lock", "start_enable": "start_disable"}[command]
    car.command(opposite)
    car.wait_inputs(lambda inputs: signal_name in inputs and inputs[signal_name] != moved)


def test_silent_ecus_send_nothing_until_revived(sim: SimProcess, car: CarBus) -> None:
    sim.send(op="fault", name="silent", on=True)
    wait_event(sim, "fault", name="silent", on=True)
    car.frames(0.05)  # what was on its way already
    assert car.frames(0.6) == []
    assert car.obd(bytes([0x01, 0x0D]), timeout=0.3) is None

    sim.send(op="fault", name="silent", on=False)
    wait_event(sim, "fault", name="silent", on=False)
    assert car.read("lock_state", timeout=1.0) == "locked"


def test_bus_noise_puts_junk_beside_the_genuine_broadcasts(sim: SimProcess, car: CarBus) -> None:
    sim.send(op="fault", name="bus_noise", on=True, rate_hz=150)
    assert wait_event(sim, "fault", name="bus_noise")["rate_hz"] == 150
    frames = car.frames(1.5)
    sim.send(op="fault", name="bus_noise", on=False)
    wait_event(sim, "fault", name="bus_noise", on=False)

    obd_ids = {FUNCTIONAL_REQUEST_ID, *PHYSICAL_REQUEST_IDS, *RESPONSE_IDS}
    foreign = [m for m in frames if m.arbitration_id not in STATUS_IDS]
    assert foreign
    assert not [m for m in foreign if m.arbitration_id in obd_ids | CODEC.command_ids]
    genuine: Counter[int] = Counter()
    refused = 0
    for msg in frames:
        if msg.arbitration_id not in STATUS_IDS:
            continue
        try:
            CODEC.decode(msg.arbitration_id, bytes(msg.data))
        except CanDecodeError:
            refused += 1
        else:
            genuine[msg.arbitration_id] += 1
    assert refused >= 10
    for broadcast in CODEC.broadcasts:
        assert genuine[broadcast.frame_id] >= 0.6 * 1.5 / broadcast.cycle_s, broadcast.message
    sent = sim.state()["noise_sent"]
    assert set(sent) <= {"foreign_id", "bad_checksum", "wrong_length"}
    assert sent["bad_checksum"] > 0
    assert sent["wrong_length"] > 0

    car.frames(0.05)
    for msg in car.frames(0.5):
        assert msg.arbitration_id in STATUS_IDS
        CODEC.decode(msg.arbitration_id, bytes(msg.data))


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("{not json\n", "bad_json"),
        ('["op", "set"]\n', "bad_command"),
        ('{"op": 3}\n', "bad_command"),
        ('{"op": "fly"}\n', "bad_command"),
        ('{"op": "set"}\n', "bad_command"),
        ('{"op": "set", "fuel_pct": "full"}\n', "bad_command"),
        ('{"op": "set", "fuel_pct": 150}\n', "bad_command"),
        ('{"op": "set", "fuel_pct": -1}\n', "bad_command"),
        ('{"op": "set", "fule_pct": 10}\n', "bad_command"),
        ('{"op": "ignition", "on": "yes"}\n', "bad_command"),
        ('{"op": "engine"}\n', "bad_command"),
        ('{"op": "door", "open": true, "door": "sunroof"}\n', "bad_command"),
        ('{"op": "drive", "km": 5, "fuel_pct_used": 1}\n', "bad_command"),  # engine off
        ('{"op": "drive", "km": 0, "fuel_pct_used": 1}\n', "bad_command"),
        ('{"op": "dtcs", "codes": ["X1234"]}\n', "bad_command"),
        ('{"op": "dtcs", "codes": "P0301"}\n', "bad_command"),
        ('{"op": "fault", "name": "gremlins", "on": true}\n', "bad_command"),
        ('{"op": "fault", "name": "silent", "on": 1}\n', "bad_command"),
        ('{"op": "fault", "name": "bus_noise", "on": true, "rate_hz": 0}\n', "bad_command"),
        ('{"op": "fault", "name": "lock_stuck", "on": true, "rate_hz": 5}\n', "bad_command"),
    ],
)
def test_a_malformed_control_line_is_answered_with_an_error(
    sim: SimProcess, line: str, error: str
) -> None:
    before = sim.state()
    sim.send_raw(line)
    assert sim.wait_event("error")["error"] == error
    after = sim.state()
    for key in ("lock", "fuel_pct", "odometer_km", "ignition", "engine_running", "dtcs", "faults"):
        assert after[key] == before[key], key


def test_sigterm_exits_0() -> None:
    other = SimProcess("vehicle", "--can-interface", "virtual", "--can-channel", "sigterm-test")
    try:
        assert other.connect == {
            "interface": "virtual",
            "channel": "sigterm-test",
            "bitrate": 500_000,
            "options": {},
        }
        other.proc.send_signal(signal.SIGTERM)
        assert other.proc.wait(10) == 0
    finally:
        other.kill()


def test_help_lists_every_op_and_fault_and_bad_options_exit_2() -> None:
    run = [sys.executable, "-m", "sim.cli", "vehicle"]
    shown = subprocess.run([*run, "--help"], capture_output=True, text=True, timeout=30, check=True)
    for name in (*OPS, *FAULTS):
        assert f'"{name}"' in shown.stdout, name
    assert '"rate_hz"' in shown.stdout
    refused = subprocess.run(
        [*run, "--fuel-pct", "101"], capture_output=True, text=True, timeout=30, check=False
    )
    assert refused.returncode == 2
    assert "--fuel-pct" in refused.stderr


CHILD = textwrap.dedent(
    """
    import sys, time, can
    bus = can.Bus(interface="slcan", channel=sys.argv[1], bitrate=500000, sleep_after_open=0)
    while bus.recv(1.0) is None:
        pass
    print("open", flush=True)
    time.sleep(60)
    """
)


def test_the_host_may_die_and_reopen_the_port(sim: SimProcess) -> None:
    for _ in range(2):
        with CarBus(sim.connect) as bus:
            assert bus.read("lock_state") == "locked"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, sim.connect["channel"]], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "open"
    finally:
        child.kill()
        child.wait()
        assert child.stdout is not None
        child.stdout.close()
    with CarBus(sim.connect) as bus:
        assert bus.read("lock_state") == "locked"
        bus.command("unlock")
        bus.wait_inputs(lambda inputs: inputs.get("lock_state") == "unlocked")
        bus.command("lock")
        bus.wait_inputs(lambda inputs: inputs.get("lock_state") == "locked")
    assert sim.proc.poll() is None

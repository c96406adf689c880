"""`edge-sim parking` as a real process: its stdin and stdout, and its serial line opened with
pyserial as the agent opens it, spoken to with the slot-board codec (contract section 8,
firmware_protocol/slotboard/PROTOCOL.md section 12)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from processes import SimProcess
from slotboard_client import BoardClient, is_nak

from firmware_protocol.slotboard import (
    BoardKind,
    BoardReset,
    EjectRequest,
    ErrorCode,
    GetGroundLockRequest,
    GetGroundLockResponse,
    GetInfoRequest,
    GroundLockFault,
    GroundLockFaultChanged,
    LowerRequest,
    LowerResponse,
    OccupancyChanged,
    Position,
    PositionChanged,
    QueuedEvent,
    RaiseRequest,
    RaiseResponse,
    ResetReason,
    parse_response,
)
from sim.parking.ops import FAULTS, OPS

MOVE_MS = 300
NO_FAULTS = GroundLockFault(0)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    process = SimProcess("parking", "--move-ms", str(MOVE_MS))
    yield process
    assert process.stop() == 0  # SIGTERM


@pytest.fixture
def client(sim: SimProcess) -> Iterator[BoardClient]:
    with BoardClient(sim.connect) as board_client:
        yield board_client


def status(client: BoardClient) -> GetGroundLockResponse:
    answer = client.request(1, GetGroundLockRequest())
    assert isinstance(answer, GetGroundLockResponse)
    return answer


def bring_to(sim: SimProcess, client: BoardClient, position: Position) -> None:
    """The arm at `position` and at rest, the event queue empty."""
    if status(client).position != position:
        request = RaiseRequest() if position == Position.RAISED else LowerRequest()
        assert client.request(1, request).position == Position.MOVING
        sim.wait_event("position", position=position.name.lower())
    client.events(1)


def switch(sim: SimProcess, name: str, on: bool, **params: Any) -> None:
    sim.send(op="fault", name=name, on=on, **params)
    sim.wait_event("fault", name=name, on=on)


def arrived(position: Position) -> Any:
    return lambda bodies: PositionChanged(position) in bodies


def test_ready_info_and_reset(sim: SimProcess, client: BoardClient) -> None:
    assert set(sim.connect) == {"port", "baudrate"}
    info = client.request(1, GetInfoRequest())
    assert (info.kind, info.slot_count) == (BoardKind.PARKING, 0)
    assert status(client).car_present is False
    assert is_nak(client.request(1, EjectRequest(1)), ErrorCode.UNKNOWN_COMMAND)
    assert client.exchange(client.frame(2, GetInfoRequest())) is None
    sim.send(op="reset", reason="software")
    sim.wait_event("reset", address=1)
    assert client.events(1) == [QueuedEvent(0, BoardReset(ResetReason.SOFTWARE))]


def test_lower_moves_then_reports_lowered(sim: SimProcess, client: BoardClient) -> None:
    bring_to(sim, client, Position.RAISED)
    started = time.monotonic()
    assert client.request(1, LowerRequest()) == LowerResponse(Position.MOVING)
    sim.wait_event("moving", target="lowered")
    assert status(client).position == Position.MOVING
    sim.wait_event("position", position="lowered")
    assert time.monotonic() - started >= MOVE_MS / 1000 * 0.9
    assert status(client) == GetGroundLockResponse(Position.LOWERED, False, NO_FAULTS)
    assert client.events_until(1, arrived(Position.LOWERED)) == [
        PositionChanged(Position.MOVING),
        PositionChanged(Position.LOWERED),
    ]
    moves = sim.state()["counters"]["moves"]
    assert client.request(1, LowerRequest()) == LowerResponse(Position.LOWERED)  # there already
    assert sim.state()["counters"]["moves"] == moves


def test_raise_is_refused_while_a_car_is_there(sim: SimProcess, client: BoardClient) -> None:
    bring_to(sim, client, Position.LOWERED)
    sim.send(op="car", present=True)
    sim.wait_event("car", present=True)
    assert is_nak(client.request(1, RaiseRequest()), ErrorCode.OCCUPIED)
    assert sim.wait_event("nak", address=1)["code"] == "OCCUPIED"
    assert status(client) == GetGroundLockResponse(Position.LOWERED, True, NO_FAULTS)
    sim.send(op="car", present=False)
    sim.wait_event("car", present=False)
    assert client.request(1, RaiseRequest()) == RaiseResponse(Position.MOVING)
    assert client.events_until(1, arrived(Position.RAISED)) == [
        OccupancyChanged(True),
        OccupancyChanged(False),
        PositionChanged(Position.MOVING),
        PositionChanged(Position.RAISED),
    ]


def test_a_retransmitted_raise_moves_once(sim: SimProcess, client: BoardClient) -> None:
    bring_to(sim, client, Position.LOWERED)
    moves = sim.state()["counters"]["moves"]
    frame = client.frame(1, RaiseRequest())
    first = client.exchange(frame)
    second = client.exchange(frame)
    assert first is not None
    assert second == first
    assert parse_response(frame, first) == RaiseResponse(Position.MOVING)
    sim.wait_event("retransmission", address=1, seq=frame.seq, command="RAISE")
    sim.wait_event("position", position="raised")
    assert sim.state()["counters"]["moves"] == moves + 1


def test_a_command_against_the_travel_reverses_it(sim: SimProcess, client: BoardClient) -> None:
    bring_to(sim, client, Position.RAISED)
    assert client.request(1, LowerRequest()).position == Position.MOVING
    time.sleep(MOVE_MS / 1000 / 3)
    assert client.request(1, RaiseRequest()).position == Position.MOVING
    sim.wait_event("position", position="raised")
    assert client.events_until(1, arrived(Position.RAISED)) == [
        PositionChanged(Position.MOVING),
        PositionChanged(Position.RAISED),
    ]


def test_a_car_over_the_rising_arm_stalls_it(sim: SimProcess, client: BoardClient) -> None:
    bring_to(sim, client, Position.LOWERED)
    assert client.request(1, RaiseRequest()).position == Position.MOVING
    sim.send(op="car", present=True)
    sim.wait_event("stalled", target="raised")
    sim.wait_event("position", position="lowered")
    assert client.events_until(1, arrived(Position.LOWERED)) == [
        PositionChanged(Position.MOVING),
        OccupancyChanged(True),
        GroundLockFaultChanged(GroundLockFault.MOTOR_STALL),
        PositionChanged(Position.LOWERED),
    ]
    sim.send(op="car", present=False)
    sim.wait_event("car", present=False)
    assert client.request(1, RaiseRequest()).position == Position.MOVING
    sim.wait_event("position", position="raised")
    assert status(client) == GetGroundLockResponse(Position.RAISED, False, NO_FAULTS)


def test_a_stuck_lock_stalls_returns_and_is_refused(sim: SimProcess, client: BoardClient) -> None:
    bring_to(sim, client, Position.LOWERED)
    switch(sim, "lock_stuck", True, slot=1)  # the contract's shape; the lock is slot 1
    assert client.request(1, RaiseRequest()) == RaiseResponse(Position.MOVING)
    sim.wait_event("stalled", target="raised")
    sim.wait_event("position", position="lowered")
    assert client.events_until(1, arrived(Position.LOWERED)) == [
        PositionChanged(Position.MOVING),
        GroundLockFaultChanged(GroundLockFault.MOTOR_STALL),
        PositionChanged(Position.LOWERED),
    ]
    assert is_nak(client.request(1, RaiseRequest()), ErrorCode.HARDWARE_FAULT)
    assert is_nak(client.request(1, LowerRequest()), ErrorCode.HARDWARE_FAULT)
    expected = GetGroundLockResponse(Position.LOWERED, False, GroundLockFault.MOTOR_STALL)
    assert status(client) == expected

    switch(sim, "lock_stuck", False)
    assert client.request(1, RaiseRequest()) == RaiseResponse(Position.MOVING)
    sim.wait_event("position", position="raised")
    assert client.events_until(1, arrived(Position.RAISED)) == [
        PositionChanged(Position.MOVING),
        PositionChanged(Position.RAISED),
        GroundLockFaultChanged(NO_FAULTS),
    ]


def test_a_silent_lock_answers_nothing(sim: SimProcess, client: BoardClient) -> None:
    switch(sim, "silent", True)
    assert client.exchange(client.frame(1, GetGroundLockRequest())) is None
    switch(sim, "silent", False)
    assert status(client).car_present is False


def test_bad_control_lines_are_reported(sim: SimProcess) -> None:
    for command in (
        {"op": "car"},
        {"op": "car", "present": "yes"},
        {"op": "fault", "name": "lock_stuck", "on": True, "slot": 2},
        {"op": "fault", "name": "silent", "on": True, "board": 1},
        {"op": "take", "slot": 1},
    ):
        sim.send(**command)
        assert sim.wait_event("error")["error"] == "bad_command", command
    assert sim.state()["faults"] == {
        "noise": {"ber": 0.0, "drop": 0.0},
        "silent": [],
        "duplicate": [],
        "late": {},
        "lock_stuck": False,
    }


def test_help_lists_every_op_and_fault() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sim.cli", "parking", "--help"],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    ).stdout
    for name in [*OPS, *FAULTS]:
        assert f'"{name}"' in out

"""`edge-sim cabinet` as a real process: its stdin and stdout, and its serial line opened with
pyserial as the agent opens it, spoken to with the slot-board codec (contract section 8,
firmware_protocol/slotboard/PROTOCOL.md)."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
import tty
from collections.abc import Iterator
from typing import Any

import pytest
from processes import SimProcess
from slotboard_client import BoardClient, is_nak

from firmware_protocol.slotboard import (
    ALL_SLOTS,
    BROADCAST,
    AckEventsRequest,
    AckEventsResponse,
    BankInserted,
    BankRemoved,
    BoardKind,
    BoardReset,
    Colour,
    Command,
    EjectRequest,
    EjectResponse,
    ErrorCode,
    Frame,
    FrameReassembler,
    GetEventsRequest,
    GetInfoRequest,
    GetInfoResponse,
    GetSlotsRequest,
    LockChanged,
    LockSlotRequest,
    LockState,
    Pattern,
    QueuedEvent,
    RaiseRequest,
    ResetReason,
    SetIndicatorRequest,
    SlotFault,
    SlotFaultChanged,
    build_request,
    parse_response,
    timing,
)
from sim.cabinet.ops import FAULTS, OPS
from testbed.waiting import wait_until

SLOTS = 16
BOARDS = 3
LATCH_MS = 20

_used: set[int] = set()  # slots a test of the shared simulator has changed


@pytest.fixture(scope="module")
def sim() -> Iterator[SimProcess]:
    process = SimProcess("cabinet", "--charge-step-s", "0", "--latch-ms", str(LATCH_MS))
    yield process
    assert process.stop() == 0  # SIGTERM


@pytest.fixture
def client(sim: SimProcess) -> Iterator[BoardClient]:
    with BoardClient(sim.connect) as board_client:
        yield board_client


def pick(sim: SimProcess, board: int, *, bank: bool) -> dict[str, Any]:
    """A slot of `board` with (or without) a bank that no other test has used."""
    for slot in sim.state()["slots"]:
        if slot["board"] == board and slot["bank_present"] == bank and slot["slot"] not in _used:
            _used.add(slot["slot"])
            return slot
    raise AssertionError(f"board {board} has no unused slot with bank={bank}")


def switch(sim: SimProcess, name: str, on: bool, **params: Any) -> None:
    sim.send(op="fault", name=name, on=on, **params)
    sim.wait_event("fault", name=name, on=on)


def test_ready_line_gives_exactly_the_serial_keys(sim: SimProcess) -> None:
    assert set(sim.connect) == {"port", "baudrate"}
    assert sim.connect["baudrate"] == timing.BAUDRATE


def test_help_lists_every_op_and_fault() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "sim.cli", "cabinet", "--help"],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    ).stdout
    for name in [*OPS, *FAULTS]:
        assert f'"{name}"' in out
    assert "(b-1)*slots+s" in out


def test_default_cabinet_answers_with_its_inventory() -> None:
    with SimProcess("cabinet") as fresh, BoardClient(fresh.connect) as client:
        state = fresh.state()
        for address in range(1, BOARDS + 1):
            info = client.request(address, GetInfoRequest())
            assert info == GetInfoResponse(1, BoardKind.CABINET, SLOTS, info.firmware_version, 0)
            slots = client.request(address, GetSlotsRequest()).slots
            expected = [s for s in state["slots"] if s["board"] == address]
            assert [s["slot"] for s in expected] == [
                (address - 1) * SLOTS + i for i in range(1, 17)
            ]
            for status, slot in zip(slots, expected, strict=True):
                assert status.lock == LockState.LOCKED
                assert (status.bank_id, status.charge_pct) == (slot["bank_id"], slot["charge_pct"])
                assert status.bank_present == slot["bank_present"]
                assert (
                    status.charging == slot["charging"] == (slot["charge_pct"] not in (None, 100))
                )
                assert status.faults == 0
            charges = [s.charge_pct for s in slots if s.bank_present]
            assert 3 <= len(slots) - len(charges) <= 4
            assert 100 in charges
            assert any(85 <= c < 100 for c in charges if c is not None)
            assert any(c < 80 for c in charges if c is not None)
        ids = [s["bank_id"] for s in state["slots"] if s["bank_present"]]
        assert len(set(ids)) == len(ids)
        assert all(re.fullmatch(r"PB\d{6}", bank_id) for bank_id in ids)
        # The first event of every board after power-on.
        assert client.events(1) == [QueuedEvent(0, BoardReset(ResetReason.POWER_ON))]


def test_eject_then_take(sim: SimProcess, client: BoardClient) -> None:
    slot = pick(sim, 1, bank=True)
    number, on_board = slot["slot"], slot["board_slot"]
    client.events(1)
    # The latch opens LATCH_MS after the response: the sensor still reads locked.
    assert client.request(1, EjectRequest(on_board)) == EjectResponse(on_board, LockState.LOCKED)
    eject = sim.wait_event("eject", slot=number)
    assert (eject["board"], eject["board_slot"], eject["bank_id"]) == (1, on_board, slot["bank_id"])
    sim.wait_event("unlocked", slot=number)
    unlocked = LockChanged(on_board, LockState.UNLOCKED)
    assert client.events_until(1, lambda bodies: unlocked in bodies) == [unlocked]
    assert client.request(1, GetSlotsRequest()).slots[on_board - 1].bank_present

    sim.send(op="take", slot=number)
    assert sim.wait_event("taken", slot=number)["bank_id"] == slot["bank_id"]
    fetched = client.request(1, GetEventsRequest())
    expected = [BankRemoved(on_board, forced=False), LockChanged(on_board, LockState.LOCKED)]
    assert [queued.event for queued in fetched.events] == expected
    assert client.request(1, GetEventsRequest()).events == fetched.events  # kept until acked
    ack = client.request(1, AckEventsRequest(fetched.events[-1].seq))
    assert ack == AckEventsResponse(0)
    assert client.request(1, GetEventsRequest()).events == ()
    status = client.request(1, GetSlotsRequest()).slots[on_board - 1]
    assert (status.bank_present, status.lock) == (False, LockState.LOCKED)


def test_a_retransmission_never_ejects_twice(sim: SimProcess, client: BoardClient) -> None:
    slot = pick(sim, 2, bank=True)
    number, on_board = slot["slot"], slot["board_slot"]
    frame = client.frame(2, EjectRequest(on_board))
    first = client.exchange(frame)
    sim.wait_event("unlocked", slot=number)
    second = client.exchange(frame)  # as if the first response had been lost
    assert first is not None
    assert second == first
    assert parse_response(frame, first) == EjectResponse(on_board, LockState.LOCKED)
    sim.wait_event("retransmission", address=2, seq=frame.seq, command="EJECT")
    state = sim.state()
    assert state["counters"]["ejects"][str(number)] == 1
    assert len([e for e in sim.seen if e["event"] == "eject" and e["slot"] == number]) == 1
    # A new request to eject the bank that waits to be taken: answered, nothing done.
    assert client.request(2, EjectRequest(on_board)) == EjectResponse(on_board, LockState.UNLOCKED)
    # Nobody takes it: the box locks it back in.
    assert client.request(2, LockSlotRequest(on_board)).lock == LockState.UNLOCKED
    assert sim.wait_event("locked", slot=number)["cause"] == "driven"
    assert sim.state()["counters"]["ejects"][str(number)] == 1
    locked = LockChanged(on_board, LockState.LOCKED)
    client.events_until(2, lambda bodies: locked in bodies)
    status = client.request(2, GetSlotsRequest()).slots[on_board - 1]
    assert (status.bank_present, status.lock) == (True, LockState.LOCKED)


def test_insert_reports_id_and_charge(sim: SimProcess, client: BoardClient) -> None:
    first, second = pick(sim, 3, bank=False), pick(sim, 3, bank=False)
    client.events(3)
    sim.send(op="insert", slot=first["slot"], bank_id="PBTEST01", charge_pct=42)
    assert sim.wait_event("inserted", slot=first["slot"])["lock"] == "locked"
    inserted = BankInserted(first["board_slot"], "PBTEST01", 42)
    assert client.events_until(3, lambda bodies: bool(bodies)) == [inserted]
    status = client.request(3, GetSlotsRequest()).slots[first["board_slot"] - 1]
    assert (status.bank_id, status.charge_pct, status.lock) == ("PBTEST01", 42, LockState.LOCKED)

    sim.send(op="insert", slot=second["slot"], bank_id=None, charge_pct=None)
    sim.wait_event("inserted", slot=second["slot"])
    assert client.events_until(3, lambda bodies: len(bodies) == 2) == [
        BankInserted(second["board_slot"], None, None),
        SlotFaultChanged(second["board_slot"], SlotFault.ID_UNREADABLE),
    ]
    status = client.request(3, GetSlotsRequest()).slots[second["board_slot"] - 1]
    assert (status.bank_present, status.bank_id, status.faults) == (
        True,
        None,
        SlotFault.ID_UNREADABLE,
    )

    sim.send(op="insert", slot=pick(sim, 3, bank=False)["slot"], bank_id="PBTEST01", charge_pct=1)
    assert "PBTEST01" in sim.wait_event("error")["detail"]


def test_a_bank_pulled_out_unejected_is_forced(sim: SimProcess, client: BoardClient) -> None:
    slot = pick(sim, 3, bank=True)
    client.events(3)
    sim.send(op="remove", slot=slot["slot"])
    removed = sim.wait_event("removed", slot=slot["slot"])
    assert (removed["forced"], removed["bank_id"]) == (True, slot["bank_id"])
    assert client.events_until(3, bool) == [BankRemoved(slot["board_slot"], forced=True)]


def test_a_stuck_latch_is_refused_with_hardware_fault(sim: SimProcess, client: BoardClient) -> None:
    slot = pick(sim, 2, bank=True)
    number, on_board = slot["slot"], slot["board_slot"]
    client.events(2)
    switch(sim, "lock_stuck", True, slot=number)
    assert client.request(2, EjectRequest(on_board)) == EjectResponse(on_board, LockState.LOCKED)
    assert sim.wait_event("stuck", slot=number)["target"] == "unlocked"
    stuck = SlotFaultChanged(on_board, SlotFault.LOCK_STUCK)
    assert client.events_until(2, lambda bodies: stuck in bodies) == [stuck]  # no LOCK_CHANGED
    assert is_nak(client.request(2, EjectRequest(on_board)), ErrorCode.HARDWARE_FAULT)
    assert is_nak(client.request(2, LockSlotRequest(on_board)), ErrorCode.HARDWARE_FAULT)
    assert sim.wait_event("nak", address=2)["code"] == "HARDWARE_FAULT"
    status = client.request(2, GetSlotsRequest()).slots[on_board - 1]
    assert (status.lock, status.faults) == (LockState.LOCKED, SlotFault.LOCK_STUCK)

    switch(sim, "lock_stuck", False, slot=number)
    assert client.request(2, EjectRequest(on_board)).lock == LockState.LOCKED
    sim.wait_event("unlocked", slot=number)
    expected = [LockChanged(on_board, LockState.UNLOCKED), SlotFaultChanged(on_board, SlotFault(0))]
    assert client.events_until(2, lambda bodies: len(bodies) == 2) == expected
    assert sim.state()["counters"]["ejects"][str(number)] == 1  # the stuck attempt pushed nothing


def test_nak_codes(sim: SimProcess, client: BoardClient) -> None:
    empty = pick(sim, 1, bank=False)
    assert is_nak(client.request(1, EjectRequest(empty["board_slot"])), ErrorCode.NO_BANK)
    assert is_nak(client.request(1, RaiseRequest()), ErrorCode.UNKNOWN_COMMAND)
    for command, payload, code in (
        (Command.EJECT, b"\x01\x02", ErrorCode.BAD_LENGTH),
        (Command.EJECT, b"\x00", ErrorCode.BAD_SLOT),
        (Command.SET_CHARGING, b"\x01\x02", ErrorCode.BAD_VALUE),
        (0x55, b"", ErrorCode.UNKNOWN_COMMAND),
    ):
        frame = Frame(1, client.new_seq(1), command, payload)
        answer = client.exchange(frame)
        assert answer is not None
        assert (answer.command, answer.payload) == (Command.NAK, bytes((command, code)))
    assert sim.wait_event("nak", address=1, code="BAD_VALUE")["command"] == "SET_CHARGING"


def test_only_the_addressed_board_answers(sim: SimProcess, client: BoardClient) -> None:
    sim.state()  # every line so far read
    mark = len(sim.seen)
    assert client.exchange(build_request(9, 1, GetInfoRequest())) is None
    assert client.exchange(Frame(0xF8, 1, Command.GET_INFO)) is None
    assert client.exchange(Frame(1, 1, Command.GET_INFO, response=True)) is None
    # A broadcast is carried out by every board and answered by none.
    client.send(
        build_request(BROADCAST, 1, SetIndicatorRequest(ALL_SLOTS, Colour.RED, Pattern.BLINK_SLOW))
    )
    client.send(Frame(BROADCAST, 2, Command.EJECT, bytes((1,))))  # not a broadcast command
    assert client.receive(0.1) == []
    indicators = [s["indicator"] for s in sim.state()["slots"]]
    assert indicators == [{"colour": "red", "pattern": "blink_slow"}] * (BOARDS * SLOTS)
    assert not [e for e in sim.seen[mark:] if e["event"] in ("eject", "nak")]


def test_a_silent_board_answers_nothing(sim: SimProcess, client: BoardClient) -> None:
    switch(sim, "silent", True, board=2)
    assert client.exchange(client.frame(2, GetInfoRequest())) is None
    assert client.request(1, GetInfoRequest()).kind == BoardKind.CABINET
    switch(sim, "silent", True)
    assert all(client.exchange(client.frame(a, GetInfoRequest())) is None for a in (1, 3))
    switch(sim, "silent", False)
    for address in range(1, BOARDS + 1):
        assert client.request(address, GetInfoRequest()).kind == BoardKind.CABINET
    assert sim.state()["counters"]["frames_ignored_silent"] >= 3


def test_noise_costs_retries_but_answers_come(sim: SimProcess, client: BoardClient) -> None:
    switch(sim, "noise", True, ber=0.002, drop=0.01)
    try:
        for _ in range(20):
            assert client.request(1, GetInfoRequest(), attempts=10).kind == BoardKind.CABINET
    finally:
        switch(sim, "noise", False)
    assert client.reassembler.crc_errors + client.reassembler.resyncs > 0
    assert client.request(1, GetInfoRequest()).crc_errors > 0  # the board counted the bad frames
    state = sim.state()
    assert state["counters"]["bad_frames"] > 0
    assert state["serial"]["from_host"]["bits_flipped"] > 0


def test_duplicate_and_late_responses(sim: SimProcess, client: BoardClient) -> None:
    switch(sim, "duplicate", True, board=3)
    frame = client.frame(3, GetInfoRequest())
    client.send(frame)
    copies = client.receive(0.15)
    switch(sim, "duplicate", False)
    assert len(copies) == 2
    assert copies[0] == copies[1]
    assert parse_response(frame, copies[0]).kind == BoardKind.CABINET

    slot = pick(sim, 3, bank=True)
    switch(sim, "late", True, board=3, delay_ms=150)
    eject = client.frame(3, EjectRequest(slot["board_slot"]))
    assert client.exchange(eject) is None  # the box's timeout passed
    sim.wait_event("eject", slot=slot["slot"])
    late = client.exchange(eject, timeout=0.5)  # the first response, late, then ...
    again = client.receive(0.3)  # ... the answer to the retransmission, from memory
    sim.wait_event("retransmission", address=3, seq=eject.seq)
    switch(sim, "late", False)
    assert late is not None
    assert again == [late]
    assert sim.state()["counters"]["ejects"][str(slot["slot"])] == 1


def test_reset_starts_the_event_queue_afresh(sim: SimProcess, client: BoardClient) -> None:
    client.events(3)
    sim.send(op="reset", board=3, reason="watchdog")
    sim.wait_event("reset", address=3)
    assert client.events(3) == [QueuedEvent(0, BoardReset(ResetReason.WATCHDOG))]


def test_bad_control_lines_are_reported_and_the_sim_goes_on(sim: SimProcess) -> None:
    for line, error in (
        ("this is not json\n", "bad_json"),
        ("[1, 2]\n", "bad_command"),
        ('{"op": "fly"}\n', "bad_command"),
        ('{"op": "take", "slot": 999}\n', "bad_command"),
        ('{"op": "take", "slot": "1"}\n', "bad_command"),
        ('{"op": "insert", "slot": 1}\n', "bad_command"),
        ('{"op": "insert", "slot": 1, "bank_id": "has space", "charge_pct": 5}\n', "bad_command"),
        ('{"op": "fault", "name": "lock_stuck", "on": true}\n', "bad_command"),
        ('{"op": "fault", "name": "noise", "on": true, "ber": 2}\n', "bad_command"),
        ('{"op": "fault", "name": "gremlins", "on": true}\n', "bad_command"),
        ('{"op": "take", "slot": 1, "extra": 1}\n', "bad_command"),
    ):
        sim.send_raw(line)
        assert sim.wait_event("error")["error"] == error, line
    assert sim.state()["faults"]["noise"] == {"ber": 0.0, "drop": 0.0}


def test_the_port_can_be_closed_and_opened_again(sim: SimProcess) -> None:
    for _ in range(3):
        with BoardClient(sim.connect) as client:
            assert client.request(2, GetInfoRequest()).kind == BoardKind.CABINET


def test_48_slots_take_their_wire_time(sim: SimProcess, client: BoardClient) -> None:
    started = time.monotonic()
    for address in range(1, BOARDS + 1):
        assert len(client.request(address, GetSlotsRequest()).slots) == SLOTS
    elapsed = time.monotonic() - started
    frame_bytes = (7 + 1 + 12 * SLOTS) + 7  # a response and its request
    assert elapsed >= BOARDS * frame_bytes * 10 / timing.BAUDRATE


def test_a_small_cabinet_charges_and_exits_on_eof() -> None:
    fresh = SimProcess("cabinet", "--boards", "1", "--slots", "8", "--charge-step-s", "0.05")
    try:
        with BoardClient(fresh.connect) as client:
            assert client.request(1, GetInfoRequest()).slot_count == 8
            assert is_nak(client.request(1, EjectRequest(9)), ErrorCode.BAD_SLOT)
            assert client.exchange(client.frame(2, GetInfoRequest())) is None
        charging = [s for s in fresh.state()["slots"] if s["charging"]]
        assert charging

        def charged() -> bool:
            later = {s["slot"]: s["charge_pct"] for s in fresh.state()["slots"]}
            return all(later[s["slot"]] > s["charge_pct"] for s in charging)

        wait_until(charged, 5.0, "every charging bank charged some more")
        assert fresh.proc.stdin is not None
        fresh.proc.stdin.close()
        assert fresh.proc.wait(10) == 0
    finally:
        fresh.kill()


def test_a_real_port_instead_of_the_pty() -> None:
    host, device = os.openpty()
    tty.setraw(host)
    try:
        with SimProcess("cabinet", "--boards", "1", "--port", os.ttyname(device)) as fresh:
            assert fresh.connect == {"port": os.ttyname(device), "baudrate": timing.BAUDRATE}
            request = build_request(1, 7, GetInfoRequest())
            os.write(host, request.serialize())
            reassembler = FrameReassembler()

            def answered() -> list[Frame]:
                if select.select([host], [], [], 0.1)[0]:
                    return reassembler.feed(os.read(host, 256))
                return []

            frames = wait_until(answered, 5.0, "the board's answer on the real port")
            assert parse_response(request, frames[0]).kind == BoardKind.CABINET
    finally:
        os.close(host)
        os.close(device)

"""The box's serial link to the slot boards, against a fake board on a real pty."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from pathlib import Path

import pytest
from serial_link_board import (
    DROP,
    DUPLICATE,
    FLIP,
    LATE,
    OK,
    WRONG_SEQ,
    FakeBoard,
    RecordingLogger,
    board_and_link,
    config_for,
    run,
    running_link,
)

from edge.serial import BoardNak, LinkDown, LinkTimeout
from edge.serial.port import SerialPort
from firmware_protocol.slotboard import (
    ALL_SLOTS,
    BoardKind,
    Colour,
    Command,
    EjectRequest,
    EjectResponse,
    ErrorCode,
    Frame,
    GetInfoRequest,
    GetInfoResponse,
    LockState,
    Pattern,
    SetIndicatorRequest,
)
from testbed.waiting import wait_until_async

pytestmark = pytest.mark.timeout(30)

FAST_S = 0.05  # a response timeout for tests that wait out every attempt


@pytest.fixture(autouse=True)
def quick_reopen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("edge.serial.link.REOPEN_MIN_S", 0.05)


def test_hello_and_eject_round_trip() -> None:
    async def scenario() -> None:
        board = FakeBoard(slot_count=8)
        async with board_and_link(board) as link:
            info = await link.hello(1)
            assert info == GetInfoResponse(1, BoardKind.CABINET, 8, 0x0102, 0)
            assert link.reachable(1)
            answer = await link.request(1, EjectRequest(5))
            assert answer == EjectResponse(5, LockState.UNLOCKED)
            assert board.ejects == {5: 1}
            get_info, eject = board.requests
            assert get_info.command == Command.GET_INFO
            assert eject == Frame(1, (get_info.seq + 1) & 0xFF, Command.EJECT, b"\x05")
            health = link.health()
            assert health.frames_sent == 2
            assert health.frames_received == 2
            assert health.retries == health.timeouts == health.late_responses == 0
            assert link.pending_request is None

    run(scenario())


def test_the_first_request_to_a_board_is_get_info() -> None:
    async def scenario() -> None:
        board = FakeBoard()
        async with board_and_link(board) as link:
            assert not link.reachable(1)
            await link.request(1, EjectRequest(2))
            await link.request(1, EjectRequest(3))
            commands = [frame.command for frame in board.requests]
            assert commands == [Command.GET_INFO, Command.EJECT, Command.EJECT]
            assert isinstance(await link.request(1, GetInfoRequest()), GetInfoResponse)

    run(scenario())


def test_an_answer_that_arrives_during_the_write_resolves_the_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The board answers before write() returns: the waiter must already be there."""
    board = FakeBoard()
    written = SerialPort.write

    def write_and_answer_at_once(port: SerialPort, data: bytes) -> None:
        written(port, data)
        board._on_readable()  # the board reads the request and writes its answer
        port._on_readable()  # and the link reads it, all before write() returns

    async def scenario() -> None:
        async with board_and_link(board) as link:
            monkeypatch.setattr(SerialPort, "write", write_and_answer_at_once)
            assert await link.request(1, EjectRequest(4)) == EjectResponse(4, LockState.UNLOCKED)
            # Not missed: it would have been waited out and the request written again.
            assert link.health().retries == 0
            assert link.health().late_responses == 0

    run(scenario())


def test_retries_resend_the_same_bytes_and_the_board_ejects_once() -> None:
    async def scenario() -> None:
        board = FakeBoard()
        async with board_and_link(board) as link:
            await link.hello(1)
            board.plan.extend([DROP, DROP])  # the first two answers are lost
            answer = await link.request(1, EjectRequest(7))
            assert answer == EjectResponse(7, LockState.UNLOCKED)
            ejects = board.requests_of(Command.EJECT)
            assert len(ejects) == 3
            assert ejects[0] == ejects[1] == ejects[2]
            assert board.ejects == {7: 1}  # the retransmissions were answered from memory
            assert link.health().retries == 2
            assert link.health().timeouts == 0

    run(scenario())


@pytest.mark.parametrize("attempts", [1, 3])
def test_a_silent_board_times_out_after_exactly_the_attempts(attempts: int) -> None:
    async def scenario() -> None:
        board = FakeBoard()
        logger = RecordingLogger()
        async with board_and_link(board, logger) as link:
            await link.hello(1)
            board.silent = True
            started = time.monotonic()
            with pytest.raises(LinkTimeout) as raised:
                await link.request(1, EjectRequest(1), timeout_s=FAST_S, attempts=attempts)
            elapsed = time.monotonic() - started
            assert raised.value.command == Command.EJECT
            assert raised.value.attempts == attempts
            assert attempts * FAST_S <= elapsed
            ejects = board.requests_of(Command.EJECT)
            assert len(ejects) == attempts
            assert len(set(ejects)) == 1
            assert link.pending_request is None
            assert not link.reachable(1)
            assert logger.named("serial.board_unreachable") == [{"address": 1, "command": "EJECT"}]
            assert link.health().timeouts == 1
            assert link.health().retries == attempts - 1

            board.silent = False  # back: the next request opens a new session first
            await link.request(1, EjectRequest(2))
            commands = [frame.command for frame in board.requests[-2:]]
            assert commands == [Command.GET_INFO, Command.EJECT]
            assert board.requests[-1].seq != ejects[0].seq
            assert link.reachable(1)

    run(scenario())


@pytest.mark.parametrize("code", [ErrorCode.HARDWARE_FAULT, ErrorCode.BUSY, ErrorCode.NO_BANK])
def test_a_nak_raises_board_nak_with_its_code_and_is_not_retried(code: ErrorCode) -> None:
    async def scenario() -> None:
        board = FakeBoard()
        async with board_and_link(board) as link:
            board.nak = code
            with pytest.raises(BoardNak) as raised:
                await link.request(1, EjectRequest(3))
            assert (raised.value.address, raised.value.command) == (1, Command.EJECT)
            assert raised.value.code == code
            assert len(board.requests_of(Command.EJECT)) == 1
            assert board.ejects == {}
            assert link.health().naks == 1
            assert link.reachable(1)

    run(scenario())


def test_bad_crc_naks_resend_at_once_and_end_in_a_timeout() -> None:
    async def scenario() -> None:
        board = FakeBoard()
        async with board_and_link(board) as link:
            await link.hello(1)
            board.nak = ErrorCode.BAD_CRC
            started = time.monotonic()
            with pytest.raises(LinkTimeout):
                await link.request(1, EjectRequest(3), timeout_s=1.0)
            assert time.monotonic() - started < 1.0  # never waited out a timeout
            assert len(board.requests_of(Command.EJECT)) == 3
            assert link.health().naks == 0

    run(scenario())


def test_a_second_copy_of_an_answer_is_counted_and_confirms_nothing() -> None:
    async def scenario() -> None:
        board = FakeBoard()
        async with board_and_link(board) as link:
            await link.hello(1)
            board.plan.append(DUPLICATE)
            assert await link.request(1, EjectRequest(1)) == EjectResponse(1, LockState.UNLOCKED)
            await wait_until_async(
                lambda: link.health().late_responses == 1,
                5.0,
                "link.health().late_responses == 1",
            )
            assert await link.request(1, EjectRequest(2)) == EjectResponse(2, LockState.UNLOCKED)
            assert board.ejects == {1: 1, 2: 1}
            assert link.health().late_responses == 1

    run(scenario())


def test_a_late_answer_to_a_given_up_request_never_resolves_the_next() -> None:
    async def scenario() -> None:
        board = FakeBoard()
        async with board_and_link(board) as link:
            await link.hello(1)
            board.late_s = 0.1
            # eject 1 answered late; then GET_INFO (a new session) at once; eject 2 late,
            # so eject 1's answer arrives while eject 2 waits
            board.plan.extend([LATE, OK, LATE])
            with pytest.raises(LinkTimeout):
                await link.request(1, EjectRequest(1), timeout_s=FAST_S, attempts=1)
            answer = await link.request(1, EjectRequest(2), timeout_s=0.5)
            assert answer == EjectResponse(2, LockState.UNLOCKED)
            assert link.health().late_responses == 1
            # the board did eject slot 1: the caller was told hardware_timeout, and the
            # box reads the status before it decides anything (PROTOCOL.md section 7)
            assert board.ejects == {1: 1, 2: 1}

    run(scenario())


def test_an_answer_with_a_wrong_seq_is_ignored_and_the_request_retried() -> None:
    async def scenario() -> None:
        board = FakeBoard()
        async with board_and_link(board) as link:
            await link.hello(1)
            board.plan.append(WRONG_SEQ)
            answer = await link.request(1, EjectRequest(6), timeout_s=FAST_S)
            assert answer == EjectResponse(6, LockState.UNLOCKED)
            assert board.ejects == {6: 1}
            health = link.health()
            assert (health.late_responses, health.retries) == (1, 1)

    run(scenario())


def test_garbage_and_bit_flips_are_counted_and_the_link_recovers() -> None:
    async def scenario() -> None:
        board = FakeBoard()
        noise = random.Random(7).randbytes(400) + b"\xa5\x01\x05"  # ends mid-header
        async with board_and_link(board) as link:
            await link.hello(1)
            board.inject(noise)
            await wait_until_async(
                lambda: link.health().garbage_bytes >= len(noise) - 8,
                5.0,
                "link.health().garbage_bytes >= len(noise) - 8",
            )
            board.plan.append(FLIP)
            answer = await link.request(1, EjectRequest(9), timeout_s=FAST_S)
            assert answer == EjectResponse(9, LockState.UNLOCKED)
            board.inject(noise)  # right before an answer: the idle timer has not run
            for slot in range(10, 15):
                await link.request(1, EjectRequest(slot), timeout_s=FAST_S)
            assert board.ejects == dict.fromkeys(range(9, 15), 1)
            health = link.health()
            assert health.crc_errors >= 1
            assert health.garbage_bytes >= 2 * len(noise)
            assert health.resyncs >= 2
            assert health.retries >= 1

    run(scenario())


def test_frames_without_the_response_bit_are_echoes_and_ignored() -> None:
    async def scenario() -> None:
        board = FakeBoard()
        async with board_and_link(board) as link:
            await link.hello(1)
            board.inject(Frame(1, 0x33, Command.EJECT, b"\x01").serialize())
            await wait_until_async(
                lambda: link.health().frames_received == 2,
                5.0,
                "link.health().frames_received == 2",
            )
            assert link.health().late_responses == 0
            assert board.ejects == {}

    run(scenario())


def test_a_broadcast_is_written_and_never_waited_for() -> None:
    async def scenario() -> None:
        board = FakeBoard()
        async with board_and_link(board) as link:
            red = SetIndicatorRequest(ALL_SLOTS, Colour.RED, Pattern.BLINK_SLOW)
            await link.broadcast(red)
            await wait_until_async(
                lambda: board.indicators == [red], 5.0, "board.indicators == [red]"
            )
            assert board.sent == []
            assert await link.request(1, EjectRequest(1))
            with pytest.raises(ValueError, match="broadcast"):
                await link.request(0, red)

    run(scenario())


def test_a_cancelled_request_leaves_no_waiter_and_releases_the_line() -> None:
    async def scenario() -> None:
        board = FakeBoard()
        async with board_and_link(board) as link:
            await link.hello(1)
            board.silent = True
            waiting = asyncio.create_task(link.request(1, EjectRequest(1), timeout_s=1.0))
            await wait_until_async(
                lambda: link.pending_request is not None,
                5.0,
                "link.pending_request is not None",
            )
            waiting.cancel()
            with pytest.raises(asyncio.CancelledError):
                await waiting
            assert link.pending_request is None
            board.silent = False
            assert await link.request(1, EjectRequest(2)) == EjectResponse(2, LockState.UNLOCKED)

    run(scenario())


def test_a_port_that_vanishes_is_reopened_with_backoff(tmp_path: Path) -> None:
    async def scenario() -> None:
        port_path = tmp_path / "ttyBOARD"
        board = FakeBoard()
        board.start()
        os.symlink(board.path, port_path)
        logger = RecordingLogger()
        try:
            async with running_link(config_for(str(port_path)), logger) as link:
                await link.hello(1)
                # The adapter is unplugged: its device node goes, then the line.
                port_path.unlink()
                board.close()
                await wait_until_async(lambda: not link.up, 5.0, "not link.up")
                assert logger.named("serial.port_lost")
                with pytest.raises(LinkDown):
                    await link.request(1, EjectRequest(1))
                await wait_until_async(
                    lambda: len(logger.named("serial.open_failed")) >= 2,
                    5.0,
                    "len(logger.named('serial.open_failed')) >= 2",
                )
                failed = logger.named("serial.open_failed")
                assert failed[0]["port"] == str(port_path)
                assert "No such file" in failed[0]["error"]
                assert failed[1]["retry_in_s"] == 2 * failed[0]["retry_in_s"]

                board = FakeBoard()
                board.start()
                os.symlink(board.path, port_path)
                await wait_until_async(lambda: link.up, 5.0, "link.up")
                assert await link.request(1, EjectRequest(1)) == EjectResponse(
                    1, LockState.UNLOCKED
                )
                assert link.health().reopens == 1
        finally:
            board.close()

    run(scenario())


def test_a_missing_port_at_start_is_logged_and_retried(tmp_path: Path) -> None:
    async def scenario() -> None:
        logger = RecordingLogger()
        missing = str(tmp_path / "ttyUSB0")
        async with running_link(config_for(missing), logger, wait_open=False) as link:
            await wait_until_async(
                lambda: len(logger.named("serial.open_failed")) >= 3,
                5.0,
                "len(logger.named('serial.open_failed')) >= 3",
            )
            assert not link.up
            with pytest.raises(LinkDown):
                await link.request(1, EjectRequest(1))
        first, second, third = logger.named("serial.open_failed")[:3]
        assert first["port"] == missing
        assert "could not open port" in first["error"]
        assert [first["retry_in_s"], second["retry_in_s"], third["retry_in_s"]] == [
            0.05,
            0.1,
            0.2,
        ]

    run(scenario())


def test_rs485_mode_on_a_port_that_refuses_it_is_a_clear_error() -> None:
    async def scenario() -> None:
        logger = RecordingLogger()
        with FakeBoard() as board:
            config = config_for(board.path, rs485=True)
            async with running_link(config, logger, wait_open=False) as link:
                await wait_until_async(
                    lambda: bool(logger.named("serial.open_failed")),
                    5.0,
                    "bool(logger.named('serial.open_failed'))",
                )
                assert not link.up
            error = logger.named("serial.open_failed")[0]["error"]
            assert "RS-485" in error

    run(scenario())


def test_the_port_writes_what_the_fd_takes_and_the_rest_when_it_is_writable() -> None:
    """The loop never blocks on a full output buffer; the bytes arrive whole and in order."""

    async def scenario() -> None:
        board = FakeBoard()  # not started: nobody reads the line yet
        received = bytearray()
        lost: list[Exception] = []
        port = SerialPort(config_for(board.path), received.extend, lost.append)
        port.open()
        try:
            data = random.Random(3).randbytes(256 * 1024)
            port.write(data)  # far more than the pty buffers
            drained = asyncio.create_task(port.drained())
            await asyncio.sleep(0.05)
            assert not drained.done()
            line = bytearray()

            def read_line() -> None:
                with contextlib.suppress(BlockingIOError):
                    line.extend(os.read(board.master, 65536))

            asyncio.get_running_loop().add_reader(board.master, read_line)
            await asyncio.wait_for(drained, 10)
            await wait_until_async(lambda: len(line) == len(data), 5.0, "len(line) == len(data)")
            asyncio.get_running_loop().remove_reader(board.master)
            assert bytes(line) == data
            assert lost == []
        finally:
            port.close()
            board.close()

    run(scenario())

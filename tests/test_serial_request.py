"""edge.serial.actuate: a board request with the BUSY retries, its failures as hardware codes,
over the real link on a pty (the board of serial_link_board.py)."""

from __future__ import annotations

import pytest
from serial_link_board import FakeBoard, board_and_link, config_for, run

from edge.commands import FailureCode
from edge.serial import (
    BUSY_ATTEMPTS,
    BoardNak,
    BoardRequestFailed,
    LinkDown,
    LinkTimeout,
    SlotBoardLink,
    actuate,
)
from firmware_protocol.slotboard import (
    Command,
    EjectRequest,
    EjectResponse,
    ErrorCode,
    Frame,
    LockState,
    build_nak,
    spec_for_code,
)

pytestmark = pytest.mark.timeout(30)


@pytest.fixture(autouse=True)
def quick_busy_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("edge.serial.request.BUSY_RETRY_S", 0.01)


class BusyBoard(FakeBoard):
    """Answers the first `busy` actuating requests NAK BUSY (without carrying them out)."""

    def __init__(self, busy: int) -> None:
        super().__init__()
        self.busy = busy

    def _carry_out(self, frame: Frame) -> Frame | None:
        if self.busy and spec_for_code(frame.command).actuates:
            self.busy -= 1
            return build_nak(frame, ErrorCode.BUSY)
        return super()._carry_out(frame)


def test_an_answered_request_returns_the_response() -> None:
    async def scenario() -> None:
        board = FakeBoard()
        async with board_and_link(board) as link:
            answer = await actuate(link, 1, EjectRequest(3))
            assert answer == EjectResponse(3, LockState.UNLOCKED)
            assert len(board.requests_of(Command.EJECT)) == 1
            assert board.ejects == {3: 1}

    run(scenario())


@pytest.mark.parametrize("busy", range(1, BUSY_ATTEMPTS))
def test_busy_is_asked_again_as_a_new_request(busy: int) -> None:
    async def scenario() -> None:
        board = BusyBoard(busy)
        async with board_and_link(board) as link:
            answer = await actuate(link, 1, EjectRequest(3))
            assert answer == EjectResponse(3, LockState.UNLOCKED)
            ejects = board.requests_of(Command.EJECT)
            assert len(ejects) == busy + 1
            assert len({frame.seq for frame in ejects}) == busy + 1  # new requests
            assert board.ejects == {3: 1}
            assert link.counters.naks == busy

    run(scenario())


def test_busy_after_every_attempt_is_a_hardware_fault() -> None:
    async def scenario() -> None:
        board = FakeBoard()
        async with board_and_link(board) as link:
            await link.hello(1)
            board.nak = ErrorCode.BUSY
            with pytest.raises(BoardRequestFailed) as raised:
                await actuate(link, 1, EjectRequest(3))
            failed = raised.value
            assert failed.code is FailureCode.HARDWARE_FAULT
            assert failed.nak is ErrorCode.BUSY
            assert failed.answered
            assert isinstance(failed.__cause__, BoardNak)
            assert failed.reason == str(failed.__cause__)
            assert len(board.requests_of(Command.EJECT)) == BUSY_ATTEMPTS
            assert board.ejects == {}

    run(scenario())


@pytest.mark.parametrize("code", [ErrorCode.HARDWARE_FAULT, ErrorCode.NO_BANK, ErrorCode.OCCUPIED])
def test_any_other_nak_is_a_hardware_fault_at_once_with_its_code(code: ErrorCode) -> None:
    async def scenario() -> None:
        board = FakeBoard()
        async with board_and_link(board) as link:
            board.nak = code
            with pytest.raises(BoardRequestFailed) as raised:
                await actuate(link, 1, EjectRequest(3))
            assert raised.value.code is FailureCode.HARDWARE_FAULT
            assert raised.value.nak is code
            assert len(board.requests_of(Command.EJECT)) == 1

    run(scenario())


def test_a_silent_board_is_a_hardware_timeout() -> None:
    async def scenario() -> None:
        board = FakeBoard()
        async with board_and_link(board) as link:
            await link.hello(1)
            board.silent = True
            with pytest.raises(BoardRequestFailed) as raised:
                await actuate(link, 1, EjectRequest(3))
            failed = raised.value
            assert failed.code is FailureCode.HARDWARE_TIMEOUT
            assert failed.nak is None
            assert not failed.answered
            assert isinstance(failed.__cause__, LinkTimeout)
            assert failed.reason == str(failed.__cause__)
            # the link resent the frame; the request itself was not asked again
            assert len({frame.seq for frame in board.requests_of(Command.EJECT)}) == 1

    run(scenario())


def test_a_link_that_is_down_is_a_hardware_timeout() -> None:
    async def scenario() -> None:
        link = SlotBoardLink(config_for("/dev/null-no-such-port"))  # never run: not open
        with pytest.raises(BoardRequestFailed) as raised:
            await actuate(link, 1, EjectRequest(3))
        assert raised.value.code is FailureCode.HARDWARE_TIMEOUT
        assert raised.value.nak is None
        assert isinstance(raised.value.__cause__, LinkDown)

    run(scenario())

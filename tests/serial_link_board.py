"""A tiny slot board for the serial link's tests: the codec run in reverse on the master end of a
pty, on the test's own loop, with faults as knobs.

The link under test opens `board.path` with pyserial exactly as it opens /dev/ttyUSB0.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from edge.config import SerialConfig
from edge.serial import SlotBoardLink
from firmware_protocol.slotboard import (
    BROADCAST,
    EVENT_QUEUE_CAPACITY,
    PROTOCOL_VERSION,
    AckEventsRequest,
    BoardKind,
    BoardReset,
    Command,
    EjectRequest,
    EjectResponse,
    ErrorCode,
    Event,
    EventQueue,
    Frame,
    FrameReassembler,
    GetEventsRequest,
    GetInfoRequest,
    GetInfoResponse,
    InvalidFrame,
    InvalidPayload,
    LockSlotRequest,
    LockSlotResponse,
    LockState,
    Payload,
    ResetReason,
    RetransmissionMemory,
    SetIndicatorRequest,
    SetIndicatorResponse,
    build_nak,
    build_response,
    parse_request,
    spec_for_code,
)

FIRMWARE = 0x0102

# What the board does with one answer (`FakeBoard.plan`, one entry per answer, then "ok").
OK = "ok"
DROP = "drop"  # lost on the line
DUPLICATE = "dup"  # sent twice
LATE = "late"  # sent `late_s` later
WRONG_SEQ = "wrong_seq"  # sent with the seq off by one
FLIP = "flip"  # one bit flipped on the line


class FakeBoard:
    """One board at `address`; `ejects` counts the latches it really released."""

    def __init__(
        self,
        *,
        address: int = 1,
        kind: BoardKind = BoardKind.CABINET,
        slot_count: int = 16,
        queue_capacity: int = EVENT_QUEUE_CAPACITY,
    ) -> None:
        self.address = address
        self.kind = kind
        self.slot_count = slot_count
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self._reassembler = FrameReassembler()
        self.memory = RetransmissionMemory()
        self._queue_capacity = queue_capacity
        self.events = EventQueue(queue_capacity)
        self.requests: list[Frame] = []  # every request heard, retransmissions included
        self.sent: list[Frame] = []  # every answer that went out whole
        self.ejects: Counter[int] = Counter()
        self.indicators: list[SetIndicatorRequest] = []
        self.acks: list[int] = []
        # knobs
        self.plan: deque[str] = deque()
        self.late_s = 0.2
        self.silent = False
        self.nak: ErrorCode | None = None  # refuse every actuating request with this code
        self.lose_requests: Counter[Command] = Counter()  # requests lost before the board
        self.on_ack: Callable[[int], None] | None = None
        self._timers: list[asyncio.TimerHandle] = []
        self._open = False

    def start(self) -> None:
        asyncio.get_running_loop().add_reader(self.master, self._on_readable)
        self._open = True

    def __enter__(self) -> FakeBoard:
        """Started for the block (on the running loop), closed after it."""
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close both ends of the pty: the port the link opened vanishes."""
        if not self._open:
            return
        self._open = False
        asyncio.get_running_loop().remove_reader(self.master)
        for timer in self._timers:
            timer.cancel()
        os.close(self.master)
        os.close(self._slave)

    def inject(self, data: bytes) -> None:
        """Bytes on the line from nowhere (noise, another device)."""
        os.write(self.master, data)

    def queue(self, *events: Event) -> None:
        for event in events:
            self.events.push(event)

    def reset(self) -> None:
        """The board restarts: memory and queue are gone, BoardReset comes first."""
        self.memory.forget()
        self.events = EventQueue(self._queue_capacity)
        self.events.push(BoardReset(ResetReason.WATCHDOG))

    def requests_of(self, command: Command) -> list[Frame]:
        return [frame for frame in self.requests if frame.command == command]

    def _on_readable(self) -> None:
        try:
            data = os.read(self.master, 4096)
        except (BlockingIOError, OSError):
            return  # EIO while the link has the port closed
        for frame in self._reassembler.feed(data):
            self._handle(frame)

    def _handle(self, frame: Frame) -> None:
        if frame.response or frame.address not in (self.address, BROADCAST):
            return
        command = Command(frame.command)
        if self.lose_requests[command] > 0:
            self.lose_requests[command] -= 1
            return
        self.requests.append(frame)
        if self.silent:
            return
        answer = self.memory.recall(frame)
        if answer is None:
            answer = self._carry_out(frame)
            if answer is None:
                return
            self.memory.remember(frame, answer)
        self._send(answer)

    def _carry_out(self, frame: Frame) -> Frame | None:
        try:
            request = parse_request(frame, self.kind)
        except InvalidFrame:
            return None
        except InvalidPayload as exc:
            return None if frame.address == BROADCAST else build_nak(frame, exc.code)
        if self.nak is not None and spec_for_code(frame.command).actuates:
            return None if frame.address == BROADCAST else build_nak(frame, self.nak)
        response = self._act(request)
        return None if frame.address == BROADCAST else build_response(frame, response)

    def _act(self, request: Payload) -> Any:
        if isinstance(request, GetInfoRequest):
            return GetInfoResponse(PROTOCOL_VERSION, self.kind, self.slot_count, FIRMWARE, 0)
        if isinstance(request, GetEventsRequest):
            return self.events.get()
        if isinstance(request, AckEventsRequest):
            if self.on_ack is not None:
                self.on_ack(request.seq)
            self.acks.append(request.seq)
            return self.events.ack(request.seq)
        if isinstance(request, EjectRequest):
            self.ejects[request.slot] += 1
            return EjectResponse(request.slot, LockState.UNLOCKED)
        if isinstance(request, LockSlotRequest):
            return LockSlotResponse(request.slot, LockState.LOCKED)
        if isinstance(request, SetIndicatorRequest):
            self.indicators.append(request)
            return SetIndicatorResponse(request.slot, request.colour, request.pattern)
        raise NotImplementedError(type(request).__name__)

    def _send(self, answer: Frame) -> None:
        action = self.plan.popleft() if self.plan else OK
        data = answer.serialize()
        if action == DROP:
            return
        if action == WRONG_SEQ:
            seq = (answer.seq + 1) & 0xFF
            data = Frame(answer.address, seq, answer.command, answer.payload, True).serialize()
        if action == FLIP:
            flipped = bytearray(data)
            flipped[len(flipped) // 2] ^= 0x10
            data = bytes(flipped)
        if action == LATE:
            loop = asyncio.get_running_loop()
            self._timers.append(loop.call_later(self.late_s, self._write, data, answer))
            return
        self._write(data, answer if action in (OK, DUPLICATE) else None)
        if action == DUPLICATE:
            self._write(data, answer)

    def _write(self, data: bytes, answer: Frame | None) -> None:
        if not self._open:
            return
        os.write(self.master, data)
        if answer is not None:
            self.sent.append(answer)


class RecordingLogger:
    """Stands in for the structlog logger: keeps (level, event, fields)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def __getattr__(self, level: str) -> Callable[..., None]:
        def log(event: str, **fields: Any) -> None:
            self.lines.append((level, event, fields))

        return log

    def named(self, event: str) -> list[dict[str, Any]]:
        return [fields for _, name, fields in self.lines if name == event]


def config_for(path: str, **options: Any) -> SerialConfig:
    return SerialConfig(port=path, **options)


@contextlib.asynccontextmanager
async def running_link(
    config: SerialConfig, logger: Any = None, *, wait_open: bool = True
) -> AsyncIterator[SlotBoardLink]:
    """A link whose run() is a task for the block; afterwards no task of it is left."""
    link = SlotBoardLink(config, logger=logger)
    opened = asyncio.Event()
    task = asyncio.create_task(link.run(opened))
    try:
        if wait_open:
            await asyncio.wait_for(opened.wait(), 5)
        yield link
        assert not task.done(), "run() ended on its own"
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert not link.up
    assert link.pending_request is None


@contextlib.asynccontextmanager
async def board_and_link(
    board: FakeBoard, logger: Any = None, **options: Any
) -> AsyncIterator[SlotBoardLink]:
    """`board` started and a link on its port (`options` as `config_for` takes them) running
    for the block, open when it begins; afterwards the link is stopped, then the board closed."""
    with board:
        async with running_link(config_for(board.path, **options), logger) as link:
            yield link


def assert_no_other_tasks() -> None:
    assert asyncio.all_tasks() == {asyncio.current_task()}


def run(scenario: Coroutine[Any, Any, None]) -> None:
    """`scenario` on a new loop; it must leave no task behind."""

    async def checked() -> None:
        await scenario
        assert_no_other_tasks()

    asyncio.run(checked())

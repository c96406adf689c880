"""The boards on one serial line (PROTOCOL.md sections 2, 4, 5 and 13).

Every board hears every byte; one reassembler stands for all their receivers. A frame is
acted on by the board whose address it carries, or by every board when it is a broadcast; a
response (bit 7 set), a frame to an address nobody has, and every frame while the board is
unplugged (`silent`) are ignored. A partial frame is dropped after 2 ms of silence. A response
goes out no sooner than the 200 us turnaround after the request's last byte arrived (the pty
paces it from there), later by the board's `late_s`, twice with its `duplicate`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from firmware_protocol.slotboard import BROADCAST, Frame, FrameReassembler, timing
from sim.serial.lines import SerialLine, open_serial_line

from .board import Board
from .timers import Timers


@dataclass
class LineCounters:
    frames_in: int = 0  # whole frames with a good CRC, whoever they were for
    frames_out: int = 0  # frames the boards wrote, duplicates included
    bad_frames: int = 0  # candidates that failed their CRC
    garbage_bytes: int = 0  # bytes that were in no good frame
    resyncs: int = 0
    frames_ignored: int = 0  # responses, and requests to addresses no board has
    frames_ignored_silent: int = 0  # requests to a board unplugged by the `silent` fault
    broadcasts: int = 0


class BoardLine:
    """`boards` behind a pty (or the real `port`), paced to `baudrate`."""

    def __init__(
        self,
        boards: Sequence[Board],
        timers: Timers,
        *,
        port: str | None,
        baudrate: int,
        seed: int,
    ) -> None:
        self._boards = {board.address: board for board in boards}
        self._timers = timers
        self._serial: SerialLine = open_serial_line(
            self._on_bytes, port=port, baudrate=baudrate, seed=seed
        )
        self._reassembler = FrameReassembler()
        self._idle: asyncio.TimerHandle | None = None
        self._crc_errors_seen = 0
        self.counters = LineCounters()

    @property
    def connect(self) -> dict[str, Any]:
        return self._serial.connect

    @property
    def noise(self) -> dict[str, float]:
        faults = self._serial.faults
        return {"ber": faults.ber, "drop": faults.drop}

    async def start(self) -> dict[str, Any]:
        await self._serial.start()
        return self.connect

    async def close(self) -> None:
        self._timers.cancel(self._idle)
        self._idle = None
        await self._serial.close()

    def set_noise(self, *, ber: float, drop: float) -> None:
        self._serial.set_faults(ber=ber, drop=drop)

    def state(self) -> dict[str, Any]:
        reassembler = self._reassembler
        self.counters.garbage_bytes = reassembler.garbage_bytes
        self.counters.resyncs = reassembler.resyncs
        return {"counters": asdict(self.counters), "serial": self._serial.stats()}

    def _on_bytes(self, data: bytes) -> None:
        self._timers.cancel(self._idle)
        self._idle = self._timers.later(timing.INTER_BYTE_GAP_MAX_S, self._on_idle)
        self._take(self._reassembler.feed(data))

    def _on_idle(self) -> None:
        self._idle = None
        self._take(self._reassembler.idle())

    def _take(self, frames: list[Frame]) -> None:
        new_crc_errors = self._reassembler.crc_errors - self._crc_errors_seen
        if new_crc_errors:
            self._crc_errors_seen = self._reassembler.crc_errors
            self.counters.bad_frames += new_crc_errors
            for listener in self._boards.values():
                if not listener.silent:
                    listener.heard_crc_errors(new_crc_errors)
        for frame in frames:
            self._on_frame(frame)

    def _on_frame(self, frame: Frame) -> None:
        self.counters.frames_in += 1
        if frame.response:  # another board's answer, or an echo
            self.counters.frames_ignored += 1
            return
        if frame.address == BROADCAST:
            self.counters.broadcasts += 1
            for listener in self._boards.values():
                if not listener.silent:
                    listener.hear_broadcast(frame)
            return
        board = self._boards.get(frame.address)
        if board is None:
            self.counters.frames_ignored += 1
            return
        if board.silent:
            self.counters.frames_ignored_silent += 1
            return
        data = board.answer(frame).serialize()
        copies = 2 if board.duplicate else 1
        self._timers.later(
            timing.TURNAROUND_MIN_S + board.late_s, lambda: self._write(data, copies)
        )

    def _write(self, data: bytes, copies: int) -> None:
        for _ in range(copies):
            self._serial.write(data)
            self.counters.frames_out += 1

"""The box's end of the slot-board line (PROTOCOL.md): the master of a half-duplex bus.

One request is on the line at a time. A request's waiter is registered before its frame is
written (the answer may come back while the write is still being awaited) and removed in
`finally`, whatever happened. A request that gets no valid answer is written again, the same
bytes with the same seq, at most `attempts` times: a board carries out an actuating request
once per seq and answers a retransmission from memory, so an eject is never doubled. Only a
response matching the pending request's address, seq and command resolves it; a second copy,
an answer after the box gave up, or an answer to an older seq is dropped and counted.

The first request to a board after the box starts, or after the board was unreachable, is
GET_INFO (section 6): `request()` sends it first when the board has no open session.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import Any, cast

import structlog

from edge.config import SerialConfig
from firmware_protocol.slotboard import (
    BROADCAST,
    PROTOCOL_VERSION,
    Command,
    ErrorCode,
    Frame,
    FrameReassembler,
    GetInfoRequest,
    GetInfoResponse,
    InvalidPayload,
    Nak,
    NotAnAnswer,
    Payload,
    build_request,
    next_seq,
    parse_response,
    timing,
)

from .errors import BoardNak, LinkDown, LinkTimeout, PortError
from .health import LinkCounters, SerialLinkHealth
from .port import SerialPort

REOPEN_MIN_S = 0.5
REOPEN_MAX_S = 30.0
WRITE_TIMEOUT_S = 1.0
"""A frame the port has not taken within this long (the longest takes 21 ms on the line) means
the port is stuck: it is closed and reopened."""


@dataclass(frozen=True)
class _Pending:
    frame: Frame
    waiter: asyncio.Future[Payload]


class SlotBoardLink:
    """The serial line to the slot boards (cabinet) or the ground lock (parking).

    `run()` keeps the port open; `hello()`, `request()` and `broadcast()` talk to the boards.
    """

    def __init__(self, config: SerialConfig, *, logger: Any | None = None) -> None:
        self._config = config
        self._log = logger or structlog.get_logger(component="serial")
        self._port: SerialPort | None = None
        self._lost: asyncio.Future[Exception] | None = None
        self._reassembler = FrameReassembler()
        self._idle_timer: asyncio.TimerHandle | None = None
        self._lock = asyncio.Lock()
        self._pending: _Pending | None = None
        self._quiet_until = 0.0
        self._seqs: dict[int, int] = {}
        self._sessions: set[int] = set()
        self._ever_opened = False
        self.counters = LinkCounters()

    @property
    def up(self) -> bool:
        """Whether the port is open."""
        return self._port is not None

    @property
    def pending_request(self) -> Frame | None:
        """The request on the line waiting for its answer, if any."""
        return None if self._pending is None else self._pending.frame

    def reachable(self, address: int) -> bool:
        """Whether the board answered GET_INFO and no request to it has timed out since."""
        return address in self._sessions

    def health(self) -> SerialLinkHealth:
        return self.counters.snapshot(self._reassembler)

    async def run(self, opened: asyncio.Event | None = None) -> None:
        """Open the port, serve it, reopen it with backoff when it fails; until cancelled.

        Never raises: a port that cannot be opened is logged (`serial.open_failed`) and tried
        again, 0.5 s later and then twice as long each time up to 30 s. `opened` is set on
        every successful open.
        """
        loop = asyncio.get_running_loop()
        delay = REOPEN_MIN_S
        try:
            while True:
                try:
                    port = self._open()
                except PortError as exc:
                    self._log.error(
                        "serial.open_failed",
                        port=self._config.port,
                        error=str(exc),
                        retry_in_s=delay,
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, REOPEN_MAX_S)
                    continue
                delay = REOPEN_MIN_S
                if opened is not None:
                    opened.set()
                lost = self._lost = loop.create_future()
                error = await lost
                self._log.error("serial.port_lost", port=self._config.port, error=str(error))
                self._forget_port(port)
                await asyncio.sleep(REOPEN_MIN_S)
        finally:
            if self._port is not None:
                self._port.close()
                self._forget_port(self._port)

    async def hello(self, address: int) -> GetInfoResponse:
        """GET_INFO: who the board is; opens a session (the board forgets its remembered
        request, so a seq the box reuses after a restart is never taken for a retransmission).
        """
        async with self._lock:
            return await self._open_session(address, timing.RESPONSE_TIMEOUT_S, timing.MAX_ATTEMPTS)

    async def request(
        self,
        address: int,
        payload: Payload,
        *,
        timeout_s: float = timing.RESPONSE_TIMEOUT_S,
        attempts: int = timing.MAX_ATTEMPTS,
    ) -> Payload:
        """Send `payload` to the board at `address` and return its answer's payload.

        Raises LinkTimeout (no answer after `attempts` attempts, each waiting `timeout_s` from the
        moment its frame was written), BoardNak (refused, with the board's error code; after
        BUSY a retry is a new request), LinkDown (the port is not open or was lost).
        """
        if address == BROADCAST:
            raise ValueError("broadcasts are never answered: use broadcast()")
        if attempts < 1:
            raise ValueError(f"attempts must be at least 1, not {attempts}")
        async with self._lock:
            if isinstance(payload, GetInfoRequest):
                return await self._open_session(address, timeout_s, attempts)
            if address not in self._sessions:
                await self._open_session(address, timeout_s, attempts)
            return await self._exchange(address, payload, timeout_s, attempts)

    async def broadcast(self, payload: Payload) -> None:
        """Send `payload` to every board (SET_CHARGING, SET_INDICATOR); nobody answers."""
        async with self._lock:
            frame = build_request(BROADCAST, self._take_seq(BROADCAST), payload)
            await self._wait_for_quiet()
            try:
                await self._write(frame)
            finally:
                self._quiet_for(timing.BROADCAST_GAP_S)

    async def _open_session(self, address: int, timeout_s: float, attempts: int) -> GetInfoResponse:
        # parse_response decodes a GET_INFO answer as GetInfoResponse (the command table).
        info = cast(
            GetInfoResponse, await self._exchange(address, GetInfoRequest(), timeout_s, attempts)
        )
        self._sessions.add(address)
        self._log.info(
            "serial.board_hello",
            address=address,
            kind=info.kind.name.lower(),
            slot_count=info.slot_count,
            firmware=f"{info.firmware_version >> 8}.{info.firmware_version & 0xFF}",
            board_crc_errors=info.crc_errors,
        )
        if info.protocol_version != PROTOCOL_VERSION:
            self._log.warning(
                "serial.protocol_mismatch", address=address, version=info.protocol_version
            )
        return info

    async def _exchange(
        self, address: int, payload: Payload, timeout_s: float, attempts: int
    ) -> Payload:
        """One request, retried with the same frame until answered or `attempts` are spent."""
        frame = build_request(address, self._take_seq(address), payload)
        command = Command(frame.command)
        for attempt in range(attempts):
            if attempt:
                self.counters.retries += 1
            answer = await self._attempt(frame, timeout_s)
            if answer is None:
                continue
            if isinstance(answer, Nak):
                if answer.code == ErrorCode.BAD_CRC:
                    continue  # the board could not read it: send it again now
                self.counters.naks += 1
                raise BoardNak(address, command, answer.code)
            return answer
        self.counters.timeouts += 1
        if address in self._sessions:
            self._sessions.discard(address)
            self._log.warning("serial.board_unreachable", address=address, command=command.name)
        raise LinkTimeout(address, command, attempts)

    async def _attempt(self, frame: Frame, timeout_s: float) -> Payload | None:
        """Write `frame` once and wait for its answer: the payload, or None after `timeout_s`."""
        await self._wait_for_quiet()
        waiter: asyncio.Future[Payload] = asyncio.get_running_loop().create_future()
        self._pending = _Pending(frame, waiter)
        try:
            await self._write(frame)
            try:
                async with asyncio.timeout(timeout_s):
                    return await waiter
            except TimeoutError:
                return None
        finally:
            self._pending = None
            self._quiet_for(timing.INTER_FRAME_GAP_S)
            if not waiter.done():
                waiter.cancel()
            elif not waiter.cancelled():
                # A port lost during the write fails the waiter too; the write raised already.
                waiter.exception()

    async def _write(self, frame: Frame) -> None:
        port = self._port
        if port is None:
            raise LinkDown(f"{self._config.port} is not open")
        try:
            port.write(frame.serialize())
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                await port.drained()
        except PortError as exc:
            raise LinkDown(f"{self._config.port}: {exc}") from exc
        except TimeoutError:
            port.close()
            self._on_port_lost(PortError(f"the port took no bytes for {WRITE_TIMEOUT_S} s"))
            raise LinkDown(f"{self._config.port}: write stuck") from None
        self.counters.frames_sent += 1

    def _take_seq(self, address: int) -> int:
        # The first seq after the box starts is random (section 6).
        seq = next_seq(self._seqs.get(address, random.randrange(256)))
        self._seqs[address] = seq
        return seq

    async def _wait_for_quiet(self) -> None:
        delay = self._quiet_until - asyncio.get_running_loop().time()
        if delay > 0:
            await asyncio.sleep(delay)

    def _quiet_for(self, gap_s: float) -> None:
        self._quiet_until = asyncio.get_running_loop().time() + gap_s

    def _open(self) -> SerialPort:
        port = SerialPort(self._config, self._on_bytes, self._on_port_lost)
        port.open()
        self._port = port
        if self._ever_opened:
            self.counters.reopens += 1
        self._ever_opened = True
        self._log.info(
            "serial.open",
            port=self._config.port,
            baudrate=self._config.baudrate,
            rs485=self._config.rs485,
        )
        return port

    def _on_port_lost(self, error: Exception) -> None:
        self._port = None
        pending = self._pending
        if pending is not None and not pending.waiter.done():
            pending.waiter.set_exception(LinkDown(f"{self._config.port} lost: {error}"))
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(error)

    def _forget_port(self, port: SerialPort) -> None:
        if self._port is port:
            self._on_port_lost(PortError("closed"))
        self._lost = None
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        self._reassembler.idle()  # what was half received on the old port is garbage

    def _on_bytes(self, data: bytes) -> None:
        self._dispatch(self._reassembler.feed(data))
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._reassembler.buffered:
            self._idle_timer = asyncio.get_running_loop().call_later(
                timing.HOST_IDLE_S, self._on_idle
            )

    def _on_idle(self) -> None:
        self._idle_timer = None
        self._dispatch(self._reassembler.idle())

    def _dispatch(self, frames: list[Frame]) -> None:
        for frame in frames:
            if not frame.response:
                continue  # our own request, echoed by the adapter
            pending = self._pending
            if pending is None or pending.waiter.done():
                self._drop_late(frame)
                continue
            try:
                answer = parse_response(pending.frame, frame)
            except NotAnAnswer:
                self._drop_late(frame)
                continue
            except InvalidPayload as exc:
                # A response we cannot read is no response: the timeout retries.
                self.counters.bad_responses += 1
                self._log.warning("serial.bad_response", frame=str(frame), error=str(exc))
                continue
            pending.waiter.set_result(answer)

    def _drop_late(self, frame: Frame) -> None:
        self.counters.late_responses += 1
        self._log.debug(
            "serial.late_response", address=frame.address, seq=frame.seq, command=frame.command
        )

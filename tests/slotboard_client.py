"""The box's end of a simulated slot-board line, as the tests drive it: pyserial opened from the
simulator's `connect` exactly as the agent opens its port, and the slot-board codec. Never the
simulator's internals."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import serial

from firmware_protocol.slotboard import (
    AckEventsRequest,
    Frame,
    FrameReassembler,
    GetEventsRequest,
    GetEventsResponse,
    Nak,
    Payload,
    QueuedEvent,
    build_request,
    is_response_to,
    next_seq,
    parse_response,
    timing,
)
from testbed.waiting import wait_until

READ_POLL_S = 0.002


class NoAnswer(AssertionError):
    """No response to a request after every attempt."""


class BoardClient:
    def __init__(self, connect: dict[str, Any]) -> None:
        self.connect = connect
        self.port = serial.Serial(connect["port"], connect["baudrate"], timeout=0)
        self.reassembler = FrameReassembler()
        self.others: list[Frame] = []  # frames that answered nothing outstanding
        self._seqs: dict[int, int] = {}
        self._rng = random.Random()

    def close(self) -> None:
        self.port.close()

    def __enter__(self) -> BoardClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def new_seq(self, address: int) -> int:
        seq = next_seq(self._seqs.get(address, self._rng.randrange(256)))
        self._seqs[address] = seq
        return seq

    def frame(self, address: int, request: Payload) -> Frame:
        """A new request: the board's next seq."""
        return build_request(address, self.new_seq(address), request)

    def send(self, frame: Frame | bytes) -> None:
        self.port.write(frame if isinstance(frame, bytes) else frame.serialize())

    def receive(self, duration: float) -> list[Frame]:
        """Every frame that arrives within `duration`."""
        frames: list[Frame] = []

        def collect(new: list[Frame]) -> bool:
            frames.extend(new)
            return False

        self._read_until(collect, duration)
        return frames

    def exchange(self, request: Frame, timeout: float = timing.RESPONSE_TIMEOUT_S) -> Frame | None:
        """Write `request` once; its response, or None after `timeout`."""
        self.send(request)
        answer: list[Frame] = []

        def matches(frames: list[Frame]) -> bool:
            for frame in frames:
                if not answer and is_response_to(request, frame):
                    answer.append(frame)
                else:
                    self.others.append(frame)
            return bool(answer)

        self._read_until(matches, timeout)
        time.sleep(timing.INTER_FRAME_GAP_S)
        return answer[0] if answer else None

    def request(
        self,
        address: int,
        request: Payload,
        *,
        attempts: int = 1,
        timeout: float = timing.RESPONSE_TIMEOUT_S,
    ) -> Any:
        """The typed answer (the response payload, or a Nak), retried with the same seq."""
        frame = self.frame(address, request)
        for _ in range(attempts):
            response = self.exchange(frame, timeout)
            if response is not None:
                return parse_response(frame, response)
        raise NoAnswer(f"no answer from board {address} to {request} in {attempts} attempts")

    def events(self, address: int) -> list[QueuedEvent]:
        """Every event the board has queued, fetched and acknowledged as the box does."""
        fetched: list[QueuedEvent] = []
        while True:
            response = self.request(address, GetEventsRequest(), attempts=3)
            assert isinstance(response, GetEventsResponse), response
            fetched += response.events
            if response.events:
                self.request(address, AckEventsRequest(response.events[-1].seq), attempts=3)
            if not response.pending:
                return fetched

    def events_until(
        self,
        address: int,
        done: Callable[[list[Any]], bool],
        timeout: float = 3.0,
    ) -> list[Any]:
        """Poll the board's events (the bodies) until `done(all so far)`, as the box polls."""
        bodies: list[Any] = []

        def polled() -> bool:
            bodies.extend(queued.event for queued in self.events(address))
            return done(bodies)

        wait_until(
            polled,
            timeout,
            lambda: f"events of board {address} so far: {bodies}",
            poll_s=timing.EVENT_POLL_INTERVAL_S / 4,
        )
        return bodies

    def _read_until(self, done: Callable[[list[Frame]], bool], duration: float) -> None:
        deadline = time.monotonic() + duration
        last_bytes = time.monotonic()
        while True:
            data = self.port.read(4096)
            now = time.monotonic()
            if data:
                last_bytes = now
                if done(self.reassembler.feed(data)):
                    return
            elif (
                now - last_bytes > timing.HOST_IDLE_S
                and self.reassembler.buffered
                and done(self.reassembler.idle())
            ):
                return
            if now >= deadline:
                return
            time.sleep(READ_POLL_S)


def is_nak(answer: Any, code: Any) -> bool:
    return isinstance(answer, Nak) and answer.code == code

"""What the protocol asks a board to keep between frames, as pure pieces a simulated board
(or a port to firmware) uses: the remembered request (PROTOCOL.md section 7) and the event
queue (section 8)."""

from __future__ import annotations

from collections import deque

from .commands import BY_CODE, Command
from .errors import ErrorCode
from .events import (
    AckEventsResponse,
    Event,
    GetEventsResponse,
    QueuedEvent,
)
from .frame import BROADCAST, MAX_PAYLOAD, Frame

EVENT_QUEUE_CAPACITY = 32


class RetransmissionMemory:
    """The last actuating request a board carried out, and the response it sent.

    A request equal to it in address, seq, command and payload is a retransmission: the board
    sends the remembered response again and does not act. Any other actuating request replaces
    it; GET_INFO (a new session) clears it; other requests, broadcasts and BAD_CRC NAKs leave it
    alone.
    """

    def __init__(self) -> None:
        self._request: Frame | None = None
        self._response: Frame | None = None

    def recall(self, request: Frame) -> Frame | None:
        """The response to send again when `request` is a retransmission, else None."""
        return self._response if request == self._request else None

    def remember(self, request: Frame, response: Frame) -> None:
        """Note the response just sent to `request`."""
        spec = BY_CODE.get(request.command)
        if request.command == Command.GET_INFO:
            self.forget()
        elif _unread(response):
            return
        elif spec is not None and spec.actuates and request.address != BROADCAST:
            self._request, self._response = request, response

    def forget(self) -> None:
        self._request = self._response = None


def _unread(response: Frame) -> bool:
    """A BAD_CRC NAK: the board could not read the request, so there is nothing to remember."""
    return response.command == Command.NAK and response.payload[1:] == bytes((ErrorCode.BAD_CRC,))


class EventQueue:
    """A board's queue of events waiting for the box to fetch and acknowledge them.

    The first event gets seq 0 (after a reset the board pushes BoardReset first). An event
    that finds the queue full is dropped without a seq and sets the overflow flag, which stays
    up until an acknowledgement after a GET_EVENTS response that reported it.
    """

    def __init__(self, capacity: int = EVENT_QUEUE_CAPACITY) -> None:
        self._queue: deque[QueuedEvent] = deque()
        self._capacity = capacity
        self._next_seq = 0
        self._overflow = False
        self._overflow_reported = False

    @property
    def pending(self) -> int:
        return len(self._queue)

    def push(self, event: Event) -> QueuedEvent | None:
        """Queue `event`; None when the queue is full and it was dropped."""
        if len(self._queue) >= self._capacity:
            self._overflow = True
            return None
        queued = QueuedEvent(self._next_seq, event)
        self._next_seq = (self._next_seq + 1) & 0xFFFF
        self._queue.append(queued)
        return queued

    def get(self) -> GetEventsResponse:
        """The GET_EVENTS response: the oldest events, as many whole ones as fit."""
        sent: list[QueuedEvent] = []
        size = GetEventsResponse.HEADER_SIZE
        for queued in self._queue:
            if size + queued.size > MAX_PAYLOAD:
                break
            sent.append(queued)
            size += queued.size
        self._overflow_reported = self._overflow
        pending = min(len(self._queue) - len(sent), 0xFF)
        return GetEventsResponse(pending, self._overflow, tuple(sent))

    def ack(self, seq: int) -> AckEventsResponse:
        """The ACK_EVENTS response: drops the event `seq` and all before it, if it is queued."""
        if any(queued.seq == seq for queued in self._queue):
            while self._queue.popleft().seq != seq:
                pass
        if self._overflow_reported:
            self._overflow = self._overflow_reported = False
        return AckEventsResponse(min(len(self._queue), 0xFF))

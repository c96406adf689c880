"""ISO 15765-2 (ISO-TP) on classical CAN: normal addressing, 8-byte frames, padding 0xCC.

The protocol control information (PCI) is the high nibble of byte 0:

    type                byte 0 low nibble       then
    0 single frame      payload length 1..7     the payload
    1 first frame       length bits 11..8       byte 1 length bits 7..0 (8..4095), 6 payload bytes
    2 consecutive frame sequence number         7 payload bytes (fewer in the last frame)
    3 flow control      status 0/1/2            byte 1 block size, byte 2 STmin

Sequence numbers run 1, 2, .. 15, 0, 1, .. from the first consecutive frame on. After a first
frame the sender waits for flow control; after each block of `block size` consecutive frames
(0: no limit) the receiver sends flow control again. Unused bytes of a frame are padded with
0xCC (the padding ISO 15765-2:2016 recommends); received padding is not checked. Timeouts
(N_Bs, N_Cr) belong to whoever owns the clock, which calls `IsoTpReassembler.reset`.
"""

from dataclasses import dataclass
from enum import IntEnum

from .errors import IsoTpError, IsoTpSequenceError

FRAME_SIZE = 8
PADDING = 0xCC
MAX_PAYLOAD = 4095
SINGLE_FRAME_MAX = 7
FIRST_FRAME_DATA = 6
CONSECUTIVE_FRAME_DATA = 7

SINGLE_FRAME = 0x0
FIRST_FRAME = 0x1
CONSECUTIVE_FRAME = 0x2
FLOW_CONTROL = 0x3


class FlowStatus(IntEnum):
    CONTINUE_TO_SEND = 0
    WAIT = 1
    OVERFLOW = 2


@dataclass(frozen=True)
class FlowControl:
    """A flow control frame; `st_min` is the raw separation-time byte."""

    status: FlowStatus = FlowStatus.CONTINUE_TO_SEND
    block_size: int = 0
    st_min: int = 0

    def encode(self) -> bytes:
        if not (0 <= self.block_size <= 0xFF and 0 <= self.st_min <= 0xFF):
            raise IsoTpError(f"flow control block size or STmin out of range: {self}")
        return _pad(bytes([FLOW_CONTROL << 4 | self.status, self.block_size, self.st_min]))

    @classmethod
    def decode(cls, frame: bytes) -> "FlowControl":
        if len(frame) < 3 or frame[0] >> 4 != FLOW_CONTROL:
            raise IsoTpError(f"not a flow control frame: {bytes(frame).hex()}")
        try:
            status = FlowStatus(frame[0] & 0x0F)
        except ValueError:
            raise IsoTpError(f"flow status {frame[0] & 0x0F} is reserved") from None
        return cls(status, frame[1], frame[2])

    @property
    def st_min_s(self) -> float:
        """Seconds between consecutive frames: 0x00-0x7F milliseconds, 0xF1-0xF9 100-900 µs;
        a reserved value means the longest, 127 ms (ISO 15765-2)."""
        if self.st_min <= 0x7F:
            return self.st_min / 1000
        if 0xF1 <= self.st_min <= 0xF9:
            return (self.st_min - 0xF0) / 10_000
        return 0.127


def _pad(frame: bytes) -> bytes:
    return frame.ljust(FRAME_SIZE, bytes([PADDING]))


def segment(payload: bytes) -> list[bytes]:
    """The frames carrying `payload`: one single frame, or a first frame and consecutive frames."""
    size = len(payload)
    if size == 0:
        raise IsoTpError("ISO-TP cannot carry an empty payload")
    if size > MAX_PAYLOAD:
        raise IsoTpError(f"payload of {size} bytes is over the {MAX_PAYLOAD} a first frame carries")
    if size <= SINGLE_FRAME_MAX:
        return [_pad(bytes([SINGLE_FRAME << 4 | size]) + payload)]
    frames = [bytes([FIRST_FRAME << 4 | size >> 8, size & 0xFF]) + payload[:FIRST_FRAME_DATA]]
    for start in range(FIRST_FRAME_DATA, size, CONSECUTIVE_FRAME_DATA):
        sequence = len(frames) & 0x0F
        chunk = payload[start : start + CONSECUTIVE_FRAME_DATA]
        frames.append(_pad(bytes([CONSECUTIVE_FRAME << 4 | sequence]) + chunk))
    return frames


@dataclass(frozen=True)
class Burst:
    """Consecutive frames to send now, `st_min_s` seconds apart."""

    frames: tuple[bytes, ...]
    st_min_s: float


class IsoTpSender:
    """Sends one payload: `first_frame`, then what each flow control frame lets through."""

    def __init__(self, payload: bytes) -> None:
        self._frames = segment(payload)
        self._sent = 1

    @property
    def first_frame(self) -> bytes:
        return self._frames[0]

    @property
    def done(self) -> bool:
        return self._sent == len(self._frames)

    def on_flow_control(self, frame: bytes) -> Burst:
        """The next block after flow control `frame`; empty on WAIT or once all is sent."""
        control = FlowControl.decode(frame)
        if control.status is FlowStatus.OVERFLOW:
            raise IsoTpError("the receiver cannot take a payload this long (flow status overflow)")
        if control.status is FlowStatus.WAIT:
            return Burst((), control.st_min_s)
        count = control.block_size or len(self._frames)
        block = self._frames[self._sent : self._sent + count]
        self._sent += len(block)
        return Burst(tuple(block), control.st_min_s)


@dataclass(frozen=True)
class Complete:
    """A whole payload reassembled."""

    payload: bytes


@dataclass(frozen=True)
class SendFlowControl:
    """The receiver must answer with this flow control frame before the sender goes on."""

    frame: bytes


class IsoTpReassembler:
    """Receives frames of one sender one at a time and gives back whole payloads.

    A malformed frame raises `IsoTpError` and leaves a reception in progress as it was; a
    consecutive frame out of sequence raises `IsoTpSequenceError` and drops the reception.
    As ISO 15765-2 says, a consecutive frame with no reception in progress and a flow control
    frame are ignored, and a new single or first frame replaces a reception in progress.
    """

    def __init__(self, block_size: int = 0, st_min: int = 0) -> None:
        self._block_size = block_size
        self._flow_control = FlowControl(FlowStatus.CONTINUE_TO_SEND, block_size, st_min).encode()
        self._buffer = bytearray()
        self._expected = 0
        self._next_sequence = 0
        self._block_left = 0

    @property
    def in_progress(self) -> bool:
        return self._expected > 0

    def reset(self) -> None:
        """Drop the reception in progress (e.g. after the N_Cr timeout)."""
        self._buffer = bytearray()
        self._expected = 0

    def feed(self, frame: bytes) -> Complete | SendFlowControl | None:
        if not frame:
            raise IsoTpError("empty frame")
        kind = frame[0] >> 4
        if kind == SINGLE_FRAME:
            return self._single(frame)
        if kind == FIRST_FRAME:
            return self._first(frame)
        if kind == CONSECUTIVE_FRAME:
            return self._consecutive(frame) if self.in_progress else None
        if kind == FLOW_CONTROL:
            return None
        raise IsoTpError(f"unknown PCI type {kind:#x}")

    def _single(self, frame: bytes) -> Complete:
        size = frame[0] & 0x0F
        if not 1 <= size <= SINGLE_FRAME_MAX or size >= len(frame):
            raise IsoTpError(f"single frame length {size} invalid in {bytes(frame).hex()}")
        self.reset()
        return Complete(bytes(frame[1 : 1 + size]))

    def _first(self, frame: bytes) -> SendFlowControl:
        if len(frame) != FRAME_SIZE:
            raise IsoTpError(f"first frame of {len(frame)} bytes, not {FRAME_SIZE}")
        size = (frame[0] & 0x0F) << 8 | frame[1]
        if size <= SINGLE_FRAME_MAX:
            raise IsoTpError(f"first frame announces {size} bytes, which fit a single frame")
        self._buffer = bytearray(frame[2:])
        self._expected = size
        self._next_sequence = 1
        self._block_left = self._block_size
        return SendFlowControl(self._flow_control)

    def _consecutive(self, frame: bytes) -> Complete | SendFlowControl | None:
        sequence = frame[0] & 0x0F
        if sequence != self._next_sequence:
            expected = self._next_sequence
            self.reset()
            raise IsoTpSequenceError(expected, sequence)
        wanted = min(CONSECUTIVE_FRAME_DATA, self._expected - len(self._buffer))
        if len(frame) - 1 < wanted:
            raise IsoTpError(f"consecutive frame carries {len(frame) - 1} bytes, {wanted} due")
        self._buffer += frame[1 : 1 + wanted]
        self._next_sequence = (sequence + 1) & 0x0F
        if len(self._buffer) == self._expected:
            payload = bytes(self._buffer)
            self.reset()
            return Complete(payload)
        if self._block_size:
            self._block_left -= 1
            if self._block_left == 0:
                self._block_left = self._block_size
                return SendFlowControl(self._flow_control)
        return None

"""The test's side of the simulated car's CAN bus: python-can opened from the simulator's
`connect` exactly as the agent opens it, and the profile's codec and the OBD-II codec to read
and write frames. Never the simulator's internals."""

from __future__ import annotations

import collections
import contextlib
import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import can

from firmware_protocol.can import CanDecodeError, LogicalValue, VehicleCodec
from firmware_protocol.obd import (
    FUNCTIONAL_REQUEST_ID,
    Complete,
    IsoTpReassembler,
    SendFlowControl,
    segment,
)

CODEC = VehicleCodec.load("reference")
ECU_REQUEST_ID = 0x7E0
ECU_RESPONSE_ID = 0x7E8
STATUS_IDS = {b.frame_id: b for b in CODEC.broadcasts}
BY_INPUT = {name: b for b in CODEC.broadcasts for name in b.inputs}

# Per command id, the next rolling counter: never the one the car saw last on that id, even
# across tests sharing one simulator.
_counters: dict[int, Iterator[int]] = collections.defaultdict(itertools.count)


class CarBus:
    def __init__(self, connect: dict[str, Any]) -> None:
        self.bus = can.Bus(
            interface=connect["interface"],
            channel=connect["channel"],
            bitrate=connect["bitrate"],
            **connect["options"],
        )

    def close(self) -> None:
        self.bus.shutdown()

    def __enter__(self) -> CarBus:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, arbitration_id: int, data: bytes) -> None:
        self.bus.send(can.Message(arbitration_id=arbitration_id, data=data, is_extended_id=False))

    def command(self, name: str) -> tuple[int, bytes]:
        """Send command `name` with the next counter of its id; the frame sent."""
        arbitration_id, _ = CODEC.encode_command(name, 0)
        frame = CODEC.encode_command(name, next(_counters[arbitration_id]))
        self.send(*frame)
        return frame

    def frames(self, seconds: float) -> list[can.Message]:
        """Every frame received in the next `seconds`."""
        deadline = time.monotonic() + seconds
        seen = []
        while (left := deadline - time.monotonic()) > 0:
            msg = self.bus.recv(left)
            if msg is not None:
                seen.append(msg)
        return seen

    def drain(self) -> None:
        while self.bus.recv(0) is not None:
            pass

    def wait_inputs(
        self, check: Callable[[dict[str, LogicalValue]], bool], timeout: float = 3.0
    ) -> dict[str, LogicalValue]:
        """The inputs of the first decodable status frame for which `check` holds."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = self.bus.recv(left)
            if msg is None or msg.arbitration_id not in STATUS_IDS:
                continue
            try:
                inputs = CODEC.decode(msg.arbitration_id, bytes(msg.data))
            except CanDecodeError:
                continue
            if check(inputs):
                return inputs
        raise AssertionError(f"no status frame as wanted in {timeout} s")

    def read(self, name: str, timeout: float = 3.0) -> LogicalValue:
        """The next value of input `name` on the bus."""
        return self.wait_inputs(lambda inputs: name in inputs, timeout)[name]

    def latest(self, seconds: float = 1.2) -> dict[str, LogicalValue]:
        """Every input, as the last frames of a window carrying each showed it."""
        values: dict[str, LogicalValue] = {}
        for msg in self.frames(seconds):
            with contextlib.suppress(CanDecodeError):
                values.update(CODEC.decode(msg.arbitration_id, bytes(msg.data)))
        return values

    def obd(
        self,
        request: bytes,
        *,
        request_id: int = FUNCTIONAL_REQUEST_ID,
        flow_control: bool = True,
        block_size: int = 0,
        st_min: int = 0,
        timeout: float = 0.6,
        seen: list[bytes] | None = None,
    ) -> bytes | None:
        """The ECU's answer to `request`, reassembled; its first frame is answered with flow
        control (`block_size`, `st_min`) unless `flow_control` is False. None when no answer
        comes within `timeout`. Every frame from the ECU is appended to `seen`."""
        self.drain()
        reassembler = IsoTpReassembler(block_size, st_min)
        self.send(request_id, segment(request)[0])
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = self.bus.recv(left)
            if msg is None or msg.arbitration_id != ECU_RESPONSE_ID:
                continue
            if seen is not None:
                seen.append(bytes(msg.data))
            step = reassembler.feed(bytes(msg.data))
            if isinstance(step, Complete):
                return step.payload
            if isinstance(step, SendFlowControl) and flow_control:
                self.send(ECU_REQUEST_ID, step.frame)
        return None

"""The serial link's counters, for telemetry and for tests."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pydantic import Field

from edge.wire.fields import WireModel
from firmware_protocol.slotboard import FrameReassembler


class SerialLinkHealth(WireModel):
    """(beyond the contract) The slot-board serial link's counters since the agent started."""

    frames_sent: int = Field(ge=0, description="Request frames written.")
    retries: int = Field(ge=0, description="Requests written again with the same seq.")
    timeouts: int = Field(ge=0, description="Requests given up after every attempt.")
    naks: int = Field(ge=0, description="Requests the board answered with a NAK.")
    late_responses: int = Field(ge=0, description="Responses that matched no pending request.")
    bad_responses: int = Field(ge=0, description="Responses whose payload could not be read.")
    reopens: int = Field(ge=0, description="Opens of the port after the first.")
    frames_received: int = Field(ge=0, description="Good frames read off the line.")
    crc_errors: int = Field(ge=0, description="Candidate frames that failed their CRC.")
    garbage_bytes: int = Field(ge=0, description="Bytes dropped outside any good frame.")
    resyncs: int = Field(ge=0, description="Runs of dropped bytes between frames.")


@dataclass
class LinkCounters:
    """What the link did; the reassembler's counters are added by `snapshot`.

    `retries`: requests written again with the same seq. `timeouts`: requests given up after
    every attempt. `late_responses`: responses that matched no pending request (a second copy,
    an answer after the box gave up, a wrong seq). `bad_responses`: responses to the pending
    request whose payload could not be read. `reopens`: opens of the port after the first.
    """

    frames_sent: int = 0
    retries: int = 0
    timeouts: int = 0
    naks: int = 0
    late_responses: int = 0
    bad_responses: int = 0
    reopens: int = 0

    def snapshot(self, reassembler: FrameReassembler) -> SerialLinkHealth:
        return SerialLinkHealth(
            **dataclasses.asdict(self),
            frames_received=reassembler.frames,
            crc_errors=reassembler.crc_errors,
            garbage_bytes=reassembler.garbage_bytes,
            resyncs=reassembler.resyncs,
        )

"""The serial link's counters, for telemetry and for tests."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from firmware_protocol.slotboard import FrameReassembler


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

    def snapshot(self, reassembler: FrameReassembler) -> dict[str, int]:
        return {
            **dataclasses.asdict(self),
            "frames_received": reassembler.frames,
            "crc_errors": reassembler.crc_errors,
            "garbage_bytes": reassembler.garbage_bytes,
            "resyncs": reassembler.resyncs,
        }

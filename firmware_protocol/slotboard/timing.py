"""The line's numbers (PROTOCOL.md sections 2 and 6). The box's link layer and the simulated
boards take them from here."""

from __future__ import annotations

BAUDRATE = 115200
"""Default; 8 data bits, no parity, 1 stop bit."""

CHARACTER_TIME_S = 10 / BAUDRATE
"""One byte on the line at the default rate: start bit, 8 data bits, stop bit (about 87 us)."""

TURNAROUND_MIN_S = 0.0002
"""A board enables its driver no sooner than this after the last stop bit of a request,
so the box has released the line."""

RESPONSE_START_MAX_S = 0.010
"""A board starts its response no later than this after the last stop bit of a request."""

INTER_BYTE_GAP_MAX_S = 0.002
"""A sender writes a frame without gaps; a board drops a partial frame after this silence."""

RESPONSE_TIMEOUT_S = 0.100
"""The box gives up waiting for a response this long after writing the request: the board's
10 ms, the longest frame's 21 ms on the line, and up to 16 ms of USB adapter latency, doubled."""

HOST_IDLE_S = 0.020
"""The box calls FrameReassembler.idle() after this silence (USB adapters deliver in bursts
up to 16 ms apart, so the box cannot see a 2 ms gap)."""

INTER_FRAME_GAP_S = 0.001
"""The box waits at least this after a response, a timeout or a broadcast before it writes."""

BROADCAST_GAP_S = RESPONSE_START_MAX_S
"""After a broadcast, which nobody answers, the box waits this long before the next frame."""

MAX_ATTEMPTS = 3
"""A request is sent at most this often, every time with the same seq, before the box gives
up on it (hardware_timeout)."""

EVENT_POLL_INTERVAL_S = 0.2
"""The box sends GET_EVENTS to every board at least this often."""

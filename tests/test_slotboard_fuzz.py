"""10^5 random inputs through the frame decoder, every payload decoder and both parse helpers:
nothing but the codec's own ProtocolError escapes, and the reassembler raises nothing at all.

A longer fuzz: SLOTBOARD_FUZZ_MULTIPLIER=100 .venv/bin/pytest tests/test_slotboard_fuzz.py
runs 100 times as many inputs; SLOTBOARD_FUZZ_SEED=N picks another stream.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any

from firmware_protocol.slotboard import (
    COMMANDS,
    MAX_FRAME,
    MAX_PAYLOAD,
    START,
    BankInserted,
    BoardKind,
    Colour,
    Command,
    EventQueue,
    Frame,
    FrameReassembler,
    GetSlotsResponse,
    LockState,
    Nak,
    Pattern,
    ProtocolError,
    SetIndicatorRequest,
    SlotFault,
    SlotStatus,
    crc16_modbus,
    parse_request,
    parse_response,
)
from firmware_protocol.slotboard.events import decode_events

INPUTS = 100_000 * int(os.environ.get("SLOTBOARD_FUZZ_MULTIPLIER", "1"))
SEED = int(os.environ.get("SLOTBOARD_FUZZ_SEED", "20261123"))

DECODERS: list[Callable[[bytes], Any]] = [
    *(spec.request.decode for spec in COMMANDS),
    *(spec.response.decode for spec in COMMANDS),
    Nak.decode,
    SlotStatus.decode,
    decode_events,
]
CODES = [int(spec.command) for spec in COMMANDS] + [Command.NAK]


def _valid_frames() -> list[tuple[int, bool, bytes]]:
    """Well-formed (command, response, payload) to mutate, so the fuzz walks past the checks."""
    queue = EventQueue()
    queue.push(BankInserted(3, "PB000123", 55))
    slot = SlotStatus(LockState.LOCKED, True, "KEY-0042", 100, False, SlotFault(0))
    return [
        (Command.GET_INFO, False, b""),
        (Command.GET_INFO, True, b"\x01\x01\x08\x02\x01\x00\x00"),
        (Command.EJECT, False, b"\x05"),
        (Command.EJECT, True, b"\x05\x01"),
        (Command.SET_CHARGING, False, b"\x05\x01"),
        (
            Command.SET_INDICATOR,
            False,
            SetIndicatorRequest(2, Colour.BLUE, Pattern.STEADY).encode(),
        ),
        (Command.GET_EVENTS, True, queue.get().encode()),
        (Command.ACK_EVENTS, False, b"\x01\x00"),
        (Command.GET_SLOTS, True, GetSlotsResponse((slot,) * 4).encode()),
        (Command.GET_GROUND_LOCK, True, b"\x01\x00\x00"),
        (Command.NAK, True, b"\x21\x09"),
    ]


def _random_input(rng: random.Random, seeds: list[tuple[int, bool, bytes]]) -> bytes:
    """Raw noise, or a frame (mostly with a right CRC) around a random or mutated payload."""
    shape = rng.random()
    if shape < 0.2:
        return rng.randbytes(rng.randrange(0, 40))
    if rng.random() < 0.6:
        command, response, seed = rng.choice(seeds)
        payload = bytearray(seed)
        for _ in range(rng.randrange(3)):
            if payload:
                payload[rng.randrange(len(payload))] = rng.randrange(256)
    else:
        command, response = rng.choice(CODES), rng.random() < 0.5
        payload = bytearray(rng.randbytes(rng.choice((0, 1, 2, 3, 7, rng.randrange(241)))))
    body = (
        bytes(
            (
                rng.randrange(4),
                rng.randrange(256),
                command | (0x80 if response else 0),
                len(payload),
            )
        )
        + payload
    )
    crc = crc16_modbus(body) if shape < 0.9 else rng.randrange(0x10000)
    wire = bytes((START,)) + body + crc.to_bytes(2, "little")
    if rng.random() < 0.1:
        cut = rng.randrange(len(wire))
        wire = wire[:cut] + rng.randbytes(rng.randrange(4)) + wire[cut + 1 :]
    return wire


def _steps(rng: random.Random, data: bytes) -> list[Callable[[], object]]:
    """The decodings to try on one input, each on its own."""
    try:
        frame, _ = Frame.deserialize(data)
    except ProtocolError:
        frame = Frame(1, 0, rng.choice(CODES), data[:MAX_PAYLOAD], response=rng.random() < 0.5)
    decoder = rng.choice(DECODERS)
    if not frame.response:
        kind = rng.choice((BoardKind.CABINET, BoardKind.PARKING))
        return [lambda: decoder(frame.payload), lambda: parse_request(frame, kind)]
    asked = rng.choice(CODES[:-1]) if frame.command == Command.NAK else frame.command
    request = Frame(frame.address, frame.seq, asked)
    return [lambda: decoder(frame.payload), lambda: parse_response(request, frame)]


def test_random_inputs_raise_only_protocol_errors() -> None:
    rng = random.Random(SEED)
    seeds = _valid_frames()
    reassembler = FrameReassembler()
    fed = in_frames = decoded = 0
    for _ in range(INPUTS):
        data = _random_input(rng, seeds)
        fed += len(data)
        in_frames += sum(frame.size for frame in reassembler.feed(data))
        assert reassembler.buffered < MAX_FRAME
        for step in _steps(rng, data):
            try:
                step()
            except ProtocolError:
                continue
            decoded += 1
    in_frames += sum(frame.size for frame in reassembler.idle())
    assert reassembler.garbage_bytes + in_frames == fed
    assert reassembler.frames > INPUTS // 4
    assert reassembler.crc_errors > 0
    assert decoded > INPUTS // 10, "the fuzz reaches past the refusals"

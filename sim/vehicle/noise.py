"""Junk on the bus for the `bus_noise` fault: what a misbehaving node or a bad harness puts there.

Three kinds of junk frame, drawn from a seeded generator:
- `foreign_id`: a frame on an id the car does not use (no status, command or OBD-II id), of
  random length and data; the box must ignore it;
- `bad_checksum`: a genuine status frame with one bit flipped where that breaks its checksum (a
  protected message); for a message without a checksum, a `wrong_length` frame instead;
- `wrong_length`: a genuine status frame one byte too long or too short.
Every junk frame on a status id is checked against the codec: it must raise CanDecodeError, so
the box can drop and count it and never takes it for a reading.
"""

from __future__ import annotations

import random
from collections import Counter

from firmware_protocol.can import CanDecodeError
from firmware_protocol.obd import FUNCTIONAL_REQUEST_ID, PHYSICAL_REQUEST_IDS, RESPONSE_IDS

from .car import Car
from .frames import CarFrames

MAX_STANDARD_ID = 0x7FF
MAX_DATA = 8
KINDS = ("foreign_id", "bad_checksum", "wrong_length")


class BusNoise:
    def __init__(self, frames: CarFrames, rng: random.Random) -> None:
        self._frames = frames
        self._rng = rng
        codec = frames.codec
        used = {
            *codec.receive_ids,
            *codec.command_ids,
            FUNCTIONAL_REQUEST_ID,
            *PHYSICAL_REQUEST_IDS,
            *RESPONSE_IDS,
        }
        self._free_ids = [i for i in range(MAX_STANDARD_ID + 1) if i not in used]
        self.sent: Counter[str] = Counter()

    def junk(self, car: Car) -> tuple[int, bytes]:
        """One junk frame, counted by kind in `sent`."""
        kind = self._rng.choice(KINDS)
        if kind == "foreign_id":
            frame = self._foreign()
        else:
            broadcast = self._rng.choice(self._frames.broadcasts)
            genuine = self._frames.encode(
                broadcast, car, self._rng, counter=self._frames.sent[broadcast.message]
            )
            spoiled = self._flipped(*genuine) if kind == "bad_checksum" else None
            if spoiled is None:
                kind = "wrong_length"
                spoiled = self._resized(*genuine)
            frame = spoiled
        self.sent[kind] += 1
        return frame

    def _foreign(self) -> tuple[int, bytes]:
        size = self._rng.randint(0, MAX_DATA)
        return self._rng.choice(self._free_ids), self._rng.randbytes(size)

    def _flipped(self, arbitration_id: int, data: bytes) -> tuple[int, bytes] | None:
        spoiled = bytearray(data)
        spoiled[self._rng.randrange(len(spoiled))] ^= 1 << self._rng.randrange(8)
        return (arbitration_id, bytes(spoiled)) if self._refused(arbitration_id, spoiled) else None

    def _resized(self, arbitration_id: int, data: bytes) -> tuple[int, bytes]:
        longer = len(data) < MAX_DATA and (not data or self._rng.random() < 0.5)
        spoiled = data + self._rng.randbytes(1) if longer else data[:-1]
        assert self._refused(arbitration_id, spoiled), "a frame of the wrong length is refused"
        return arbitration_id, spoiled

    def _refused(self, arbitration_id: int, data: bytes | bytearray) -> bool:
        try:
            self._frames.codec.decode(arbitration_id, data)
        except CanDecodeError:
            return True
        return False

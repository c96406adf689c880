"""The faults on a serial line, what they did, and the seeded noise that applies them."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class LineFaults:
    """Faults on the line; replace the whole value to change them at run time.

    `ber`: each data bit of each byte, in both directions, is flipped with this probability.
    `drop`: each byte, in both directions, is lost with this probability.
    `deaf`: bytes from the host never reach the board. `mute`: the board's bytes never leave it.
    """

    ber: float = 0.0
    drop: float = 0.0
    deaf: bool = False
    mute: bool = False

    def __post_init__(self) -> None:
        for name in ("ber", "drop"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], not {value!r}")


@dataclass
class DirectionStats:
    """What happened to the bytes going one way along the line."""

    bytes_delivered: int = 0  # came off the wire (a full buffer may still lose them later)
    bytes_corrupted: int = 0  # delivered with at least one bit flipped
    bits_flipped: int = 0
    bytes_dropped: int = 0  # lost to the `drop` fault
    bytes_lost: int = 0  # lost otherwise: deaf or mute, or a buffer overflowed


class LineNoise:
    """Bit errors and lost bytes on one direction of the line, drawn from a seeded generator.

    Bit errors are drawn as the gaps between flipped bits (geometric), not one draw per bit.
    """

    def __init__(self, rng: random.Random, stats: DirectionStats) -> None:
        self._rng = rng
        self._stats = stats
        self._ber = 0.0
        self._clean_bits = math.inf  # bits still to pass before the next flipped one

    def apply(self, data: bytes, faults: LineFaults) -> bytes:
        if faults.ber != self._ber:
            self._ber = faults.ber
            self._clean_bits = self._draw_gap()
        if faults.ber == 0.0 and faults.drop == 0.0:
            self._stats.bytes_delivered += len(data)
            return data
        out = bytearray()
        for byte in data:
            if faults.drop > 0.0 and self._rng.random() < faults.drop:
                self._stats.bytes_dropped += 1
                continue
            out.append(byte ^ self._flip_mask())
        self._stats.bytes_delivered += len(out)
        return bytes(out)

    def _flip_mask(self) -> int:
        mask = 0
        position = self._clean_bits
        while position < 8:
            mask |= 1 << int(position)
            position += 1 + self._draw_gap()
        self._clean_bits = position - 8
        if mask:
            self._stats.bytes_corrupted += 1
            self._stats.bits_flipped += mask.bit_count()
        return mask

    def _draw_gap(self) -> float:
        if self._ber == 0.0:
            return math.inf
        if self._ber == 1.0:
            return 0
        return math.floor(math.log(1.0 - self._rng.random()) / math.log(1.0 - self._ber))

"""The banks a cabinet starts with: on every board a few empty slots and banks of every kind of
charge (full, nearly full, too low to rent), so each flow can be shown without options. The
same seed gives the same cabinet; bank ids (`PB` and six digits) are unique in it."""

from __future__ import annotations

import random

from .slot_board import FULL, Bank

# Per board, in a shuffled order: mostly rentable banks, some below a usual minimum of 80 %.
CHARGE_KINDS = ("full", "high", "low", "full", "high")
HIGH_PCT = (85, 99)
LOW_PCT = (15, 79)
EMPTY_SLOTS = (3, 4)  # per board of 16; fewer slots, fewer empty ones


def default_inventory(boards: int, slots: int, seed: int) -> list[list[Bank | None]]:
    """Per board, per slot: its bank, or None for an empty slot."""
    rng = random.Random(f"{seed}/inventory")
    numbers = iter(rng.sample(range(1_000_000), boards * slots))
    cabinet: list[list[Bank | None]] = []
    for _ in range(boards):
        empty = min(rng.choice(EMPTY_SLOTS), slots // 4)
        filled = sorted(rng.sample(range(slots), slots - empty))
        rng.shuffle(filled)
        board: list[Bank | None] = [None] * slots
        for position, index in enumerate(filled):
            board[index] = Bank(f"PB{next(numbers):06d}", _charge(rng, position))
        cabinet.append(board)
    return cabinet


def _charge(rng: random.Random, position: int) -> int:
    kind = CHARGE_KINDS[position % len(CHARGE_KINDS)]
    if kind == "full":
        return FULL
    low, high = HIGH_PCT if kind == "high" else LOW_PCT
    return rng.randint(low, high)

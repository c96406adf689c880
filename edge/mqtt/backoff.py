"""Reconnect delays: exponential growth with full jitter, between two bounds."""

from __future__ import annotations

import random
from typing import Final

# 2**MAX_DOUBLINGS times any sane minimum is past any sane maximum; capping the exponent
# keeps the arithmetic finite however long the broker stays away.
MAX_DOUBLINGS: Final = 32


class Backoff:
    """The n-th delay since the last `reset()` is uniform in [min_s, min(max_s, min_s * 2**n)].

    Full jitter spreads a fleet of boxes that lost the same broker at the same moment.
    """

    def __init__(self, min_s: float, max_s: float, rng: random.Random | None = None) -> None:
        if min_s <= 0 or max_s < min_s:
            raise ValueError(f"backoff bounds need 0 < min_s <= max_s, got {min_s}, {max_s}")
        self.min_s = min_s
        self.max_s = max_s
        self.attempt = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.max_s, self.min_s * 2 ** min(self.attempt, MAX_DOUBLINGS))
        self.attempt += 1
        return self._rng.uniform(self.min_s, ceiling)

    def reset(self) -> None:
        self.attempt = 0

"""A clock source a test moves by hand: wall clock, boot time, boot id and sync (edge.clock)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from edge.clock import BoxClock
from edge.store import Store

T0 = 1_795_000_000.0  # 2026-11-18, a synchronised wall clock at the start of every test


@dataclass
class FakeSource:
    true_wall: float = T0
    error_s: float = 0.0  # what the box's wall clock reads minus the true time
    boot: float = 5.0
    boot_id_value: str = field(default_factory=lambda: str(uuid.uuid4()))
    is_synced: bool = True

    def wall(self) -> float:
        return self.true_wall + self.error_s

    def boottime(self) -> float:
        return self.boot

    def boot_id(self) -> str:
        return self.boot_id_value

    def synced(self) -> bool:
        return self.is_synced

    def run(self, seconds: float) -> None:
        """The box runs for `seconds`."""
        self.true_wall += seconds
        self.boot += seconds

    def power_off(self, seconds: float, *, error_s: float = 0.0, synced: bool = False) -> None:
        """Off for `seconds`, then boots with its wall clock `error_s` off and `synced` or not."""
        self.true_wall += seconds
        self.boot = 3.0
        self.boot_id_value = str(uuid.uuid4())
        self.error_s = error_s
        self.is_synced = synced


def boot_clock(store: Store, source: FakeSource, skew_s: float = 30.0) -> BoxClock:
    """The agent's clock as it starts on `store`, checkpointed with every transaction."""
    from edge.clock import STATE_KEY

    clock = BoxClock(store.get_state(STATE_KEY), source=source, skew_s=skew_s, sync_poll_s=0.0)
    store.before_commit = lambda tx: tx.put_state(STATE_KEY, clock.checkpoint_state())
    return clock

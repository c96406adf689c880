"""The running agent's side of `edge-agent status`: what it writes to the store, and when.

Written with every clock checkpoint (the heartbeat, carrying the latest telemetry: as the
agent starts, on ready, every 30 s, on stop), and within a second of a new fault or a change
of the broker connection. Nothing here is on a command's path.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Final

from edge.clock import BoxClock
from edge.faults import FAULTS, FaultRecorder
from edge.status.keys import AGENT_STATE_KEY, FAULT_STATE_KEY, LINK_STATE_KEY
from edge.status.models import AgentRun, LinkState
from edge.store import Store, StoreError, Transaction
from edge.ticks import sleep_aligned
from edge.wire.telemetry import Telemetry

WATCH_INTERVAL_S: Final = 1.0


class StatusJournal:
    def __init__(
        self,
        store: Store,
        clock: BoxClock,
        *,
        device_id: str,
        kind: str,
        version: str,
        faults: FaultRecorder = FAULTS,
    ) -> None:
        self._store = store
        self._clock = clock
        self._faults = faults
        self._agent = AgentRun(pid=os.getpid(), device_id=device_id, kind=kind, version=version)
        self._fault_seen = 0 if faults.last is None else faults.last.number
        self._connected: bool | None = None

    # started() and ready() only mark the time: the caller's next heartbeat writes it (the
    # housekeeping's first one runs as the agent starts; the agent writes one on ready).
    def started(self) -> None:
        self._agent.started_at = self._clock.now().wall

    def ready(self) -> None:
        self._agent.ready_at = self._clock.now().wall

    def heartbeat(self, tx: Transaction, telemetry: Telemetry, *, stopping: bool) -> None:
        """Inside the caller's transaction (the clock checkpoint's), so it costs no fsync.
        The last one, `stopping`, marks the agent stopped and the broker left."""
        now = self._clock.now().wall
        self._agent.heartbeat_at = now
        self._agent.telemetry = telemetry.model_dump(mode="json")
        if stopping:
            self._agent.stopped_at = now
            tx.put_state(LINK_STATE_KEY, LinkState(connected=False, since=now))
        tx.put_state(AGENT_STATE_KEY, self._agent)

    async def watch(self, connected: Callable[[], bool]) -> None:
        """Writes new faults and broker connection changes, until cancelled. A store that
        cannot take the write (full, read-only) is the storage watch's to report: the change
        is written once the store works again."""
        while True:
            with contextlib.suppress(StoreError):
                self.note_changes(connected())
            await sleep_aligned(WATCH_INTERVAL_S)

    def note_changes(self, connected: bool) -> None:
        fault = self._faults.last
        new_fault = fault is not None and fault.number != self._fault_seen
        new_link = connected is not self._connected
        if not (new_fault or new_link):
            return
        with self._store.transaction() as tx:
            if fault is not None and new_fault:
                tx.put_state(FAULT_STATE_KEY, fault.as_state())
            if new_link:
                tx.put_state(
                    LINK_STATE_KEY, LinkState(connected=connected, since=self._clock.now().wall)
                )
        if fault is not None and new_fault:
            self._fault_seen = fault.number
        if new_link:
            self._connected = connected

"""The `events` topic's queue: events kept in the store until the broker acknowledges them.

At most `keep` events wait (config `storage.max_events`); beyond that, and whenever records
need the room, the oldest are dropped and counted (`events_dropped` in telemetry). Records are
never dropped for events. While the store cannot be written, events wait in memory (same cap).
Each event is handed to the MQTT client once per process (the client resends what it holds
across reconnects); after a restart every stored event goes out again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Protocol

import paho.mqtt.client as mqtt

from edge.store import Store, StoreError

# Hands an event's payload to the client at QoS 1; None when the client did not take it.
PublishEvent = Callable[[bytes], mqtt.MQTTMessageInfo | None]


class EventQueue(Protocol):
    """What the MQTT link needs of the events queue."""

    def push(self, payload: bytes) -> None:
        """Keep an event until it is acknowledged."""

    def send(self, publish: PublishEvent) -> None:
        """Hand every event not yet handed to the client, oldest first (call while connected)."""

    def sweep(self) -> None:
        """Forget the events whose PUBACK has arrived."""

    @property
    def dropped(self) -> int: ...


class MemoryEvents:
    """Events in memory only (a link without a store, in tests): oldest dropped beyond `keep`."""

    def __init__(self, keep: int) -> None:
        self._waiting: deque[bytes] = deque()
        self._keep = keep
        self._dropped = 0
        self._in_flight: list[mqtt.MQTTMessageInfo] = []

    @property
    def dropped(self) -> int:
        return self._dropped

    def push(self, payload: bytes) -> None:
        self._waiting.append(payload)
        while len(self._waiting) > self._keep:
            self._waiting.popleft()
            self._dropped += 1

    def send(self, publish: PublishEvent) -> None:
        while self._waiting:
            info = publish(self._waiting[0])
            if info is None:
                return
            self._waiting.popleft()
            self._in_flight.append(info)

    def sweep(self) -> None:
        self._in_flight = [info for info in self._in_flight if not _acknowledged(info)]


class StoredEvents:
    """Events in the store's `events` table; in memory while the store cannot be written.

    `on_write_failed(exc)` hears of a store write that failed (the storage guard)."""

    def __init__(
        self, store: Store, keep: int, on_write_failed: Callable[[StoreError], None]
    ) -> None:
        self._store = store
        self._keep = keep
        self._on_write_failed = on_write_failed
        self._memory = MemoryEvents(keep)
        self._handed_up_to = 0
        self._in_flight: dict[int, mqtt.MQTTMessageInfo] = {}

    @property
    def dropped(self) -> int:
        try:
            stored = self._store.events_dropped()
        except StoreError:
            stored = 0
        return stored + self._memory.dropped

    def push(self, payload: bytes) -> None:
        try:
            self._store.add_event(payload, self._keep)
        except StoreError as exc:
            self._on_write_failed(exc)
            self._memory.push(payload)

    def send(self, publish: PublishEvent) -> None:
        self._memory.send(publish)
        while True:
            try:
                pending = self._store.events_pending(after_id=self._handed_up_to, limit=100)
            except StoreError:
                return
            if not pending:
                return
            for item in pending:
                info = publish(item.payload)
                if info is None:
                    return
                self._in_flight[item.id] = info
                self._handed_up_to = item.id

    def sweep(self) -> None:
        self._memory.sweep()
        acked = [event_id for event_id, info in self._in_flight.items() if _acknowledged(info)]
        if not acked:
            return
        try:
            self._store.delete_events(acked)
        except StoreError as exc:
            self._on_write_failed(exc)
            return
        for event_id in acked:
            del self._in_flight[event_id]


def _acknowledged(info: mqtt.MQTTMessageInfo) -> bool:
    try:
        return info.is_published()
    except (RuntimeError, ValueError):  # never queued: nothing to wait for
        return True

"""Publishing the durable outbox (contract section 2): in id order, deleted only on PUBACK.

The rule on repeats: each outbox item is handed to the MQTT client at most once per process.
The client object lives as long as the link and keeps every unacknowledged QoS 1 message
across reconnects, sending it again (DUP set) first thing on the next connection, in the
order it was first sent; so the cursor `handed_up_to` only moves forward. After a restart
the cursor starts at 0 and everything still in the store goes out again. The cloud sees
each item at least once, first arrivals in id order, and deduplicates by `record_id`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import paho.mqtt.client as mqtt

from edge.store import OutboxItem


class OutboxStore(Protocol):
    def outbox_pending(self, after_id: int = 0, limit: int = 100) -> list[OutboxItem]: ...

    def outbox_ack_many(self, item_ids: Sequence[int], synced_at: str | None = None) -> None: ...


# Hands an item to the client at QoS 1; None when the client did not take it.
Publish = Callable[[OutboxItem], mqtt.MQTTMessageInfo | None]


class OutboxPump:
    """Keeps up to `window` outbox items in flight and deletes each one once acknowledged.

    A PUBACK is matched through the message's own MQTTMessageInfo, not its message id:
    paho reports QoS 0 writes through the same `on_publish` callback, and ids wrap.
    """

    def __init__(self, store: OutboxStore, publish: Publish, window: int) -> None:
        if window < 1:
            raise ValueError(f"outbox window must be at least 1, got {window}")
        self._store = store
        self._publish = publish
        self._window = window
        self._in_flight: dict[int, mqtt.MQTTMessageInfo] = {}
        self.handed_up_to = 0

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def acknowledged(self) -> list[int]:
        """Ids of the items in flight whose PUBACK has arrived, in id order."""
        return [item_id for item_id, info in self._in_flight.items() if info.is_published()]

    def delete(self, item_ids: list[int], synced_at: str) -> None:
        """Deletes acknowledged items from the store in one commit; no longer in flight."""
        self._store.outbox_ack_many(item_ids, synced_at)
        for item_id in item_ids:
            del self._in_flight[item_id]

    def fill(self) -> list[OutboxItem]:
        """Hands the next items to the client, up to the window; those it took."""
        room = self._window - len(self._in_flight)
        if room <= 0:
            return []
        handed: list[OutboxItem] = []
        for item in self._store.outbox_pending(after_id=self.handed_up_to, limit=room):
            info = self._publish(item)
            if info is None:
                break
            self._in_flight[item.id] = info
            self.handed_up_to = item.id
            handed.append(item)
        return handed

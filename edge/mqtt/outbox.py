"""Publishing the durable outbox (contract section 2): in id order, deleted only on PUBACK.

The rule on repeats: each outbox item is handed to the MQTT client at most once per process.
The client object lives as long as the link and keeps every unacknowledged QoS 1 message
across reconnects, sending it again (DUP set) first thing on the next connection, in the
order it was first sent; so the cursor `handed_up_to` only moves forward. After a restart
the cursor starts at 0 and everything still in the store goes out again. The cloud sees
each item at least once, first arrivals in id order, and deduplicates by `record_id`.

An item the broker refuses (MQTT 5: a PUBACK with an error reason code) or that the link
cannot send (larger than the broker's Maximum Packet Size) is held: it stays in the store,
leaves the window, and goes out again when `release_held()` is called (on the next
connection, or after a pause), before the items behind the cursor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import paho.mqtt.client as mqtt

from edge.store import OutboxItem


class OutboxStore(Protocol):
    def outbox_pending(self, after_id: int = 0, limit: int = 100) -> list[OutboxItem]: ...

    def outbox_ack_many(self, item_ids: Sequence[int], synced_at: str | None = None) -> None: ...


class ItemHeld(Exception):
    """Raised by Publish for an item that cannot be sent as it is (e.g. too large for the
    broker); the pump holds it and goes on with the next one."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


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
        self.window = window
        self._in_flight: dict[int, mqtt.MQTTMessageInfo] = {}
        self._topics: dict[int, str] = {}  # item id -> topic suffix, while in flight
        self._refused: set[int] = set()  # in flight, PUBACKed with an error reason code
        self.held: dict[int, str] = {}  # item id -> why; not in flight, waiting for release
        self._resend: list[int] = []  # held items released, to hand out before new ones
        self.handed_up_to = 0

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def acknowledged(self) -> list[int]:
        """Ids of the items in flight whose PUBACK has arrived, in id order (not counting
        those refused: see `refuse`)."""
        return [
            item_id
            for item_id, info in self._in_flight.items()
            if info.is_published() and item_id not in self._refused
        ]

    def refuse(self, mid: int, reason: str) -> tuple[int, str] | None:
        """The broker refused the message `mid`: the outbox item it carried (its id and topic
        suffix) is held; None when `mid` carries no item in flight."""
        for item_id, info in self._in_flight.items():
            if info.mid == mid and item_id not in self._refused:
                self._refused.add(item_id)
                self.held[item_id] = reason
                return item_id, self._topics[item_id]
        return None

    def drop_refused(self) -> None:
        """Takes the refused items out of the window (they stay in the store, held)."""
        for item_id in self._refused:
            self._in_flight.pop(item_id, None)
            self._topics.pop(item_id, None)
        self._refused.clear()

    def release_held(self) -> None:
        """The held items go out again, first, on the next `fill()`."""
        self._resend = sorted({*self._resend, *self.held})
        self.held.clear()

    def delete(self, item_ids: list[int], synced_at: str) -> None:
        """Deletes acknowledged items from the store in one commit; no longer in flight."""
        self._store.outbox_ack_many(item_ids, synced_at)
        for item_id in item_ids:
            del self._in_flight[item_id]
            self._topics.pop(item_id, None)

    def fill(self) -> list[OutboxItem]:
        """Hands the next items to the client, up to the window; those it took."""
        handed: list[OutboxItem] = []
        while self._resend and len(self._in_flight) < self.window:
            item_id = self._resend[0]
            found = self._store.outbox_pending(after_id=item_id - 1, limit=1)
            if found and found[0].id == item_id and not self._hand(found[0], handed):
                return handed
            self._resend.pop(0)
        room = self.window - len(self._in_flight)
        while room > 0:
            items = self._store.outbox_pending(after_id=self.handed_up_to, limit=room)
            if not items:
                break
            for item in items:
                if not self._hand(item, handed):
                    return handed
                self.handed_up_to = item.id
            room = self.window - len(self._in_flight)
        return handed

    def _hand(self, item: OutboxItem, handed: list[OutboxItem]) -> bool:
        """Publishes one item; False when the client did not take it (stop filling)."""
        try:
            info = self._publish(item)
        except ItemHeld as held:
            self.held[item.id] = held.reason
            return True
        if info is None:
            return False
        self._in_flight[item.id] = info
        self._topics[item.id] = item.topic
        handed.append(item)
        return True

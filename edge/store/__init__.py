"""The agent's durable store: state journal, outbox and replay cache in one SQLite file.

Callers write state, records and replies in one `Store.transaction()` and act only after
it returns; the outbox keeps records and replies, in order, until the broker's PUBACK.
"""

from edge.store.errors import (
    StoreCorrupt,
    StoreError,
    StoreFull,
    StoreNotFound,
    StoreNotWritable,
    StoreSchemaError,
    StoreValueError,
)
from edge.store.schema import SCHEMA_VERSION
from edge.store.store import (
    RECORDS_TOPIC,
    REPLIES_TOPIC,
    SYNC_STATE_KEY,
    OutboxItem,
    RoomMade,
    Store,
    StoreReader,
    StoreSpace,
    Transaction,
)

__all__ = [
    "RECORDS_TOPIC",
    "REPLIES_TOPIC",
    "SCHEMA_VERSION",
    "SYNC_STATE_KEY",
    "OutboxItem",
    "RoomMade",
    "Store",
    "StoreCorrupt",
    "StoreError",
    "StoreFull",
    "StoreNotFound",
    "StoreNotWritable",
    "StoreReader",
    "StoreSchemaError",
    "StoreSpace",
    "StoreValueError",
    "Transaction",
]

"""The agent's durable store: state journal, outbox and replay cache in one SQLite file.

Callers write state, records and replies in one `Store.transaction()` and act only after
it returns; the outbox keeps records and replies, in order, until the broker's PUBACK.
"""

from edge.store.errors import (
    StoreCorrupt,
    StoreError,
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
    Store,
    StoreReader,
    Transaction,
)

__all__ = [
    "RECORDS_TOPIC",
    "REPLIES_TOPIC",
    "SCHEMA_VERSION",
    "SYNC_STATE_KEY",
    "OutboxItem",
    "Store",
    "StoreCorrupt",
    "StoreError",
    "StoreNotFound",
    "StoreNotWritable",
    "StoreReader",
    "StoreSchemaError",
    "StoreValueError",
    "Transaction",
]

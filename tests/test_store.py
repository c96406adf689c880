"""The durable store: journal, outbox, record seqs and the replay cache."""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from edge.store import (
    SCHEMA_VERSION,
    OutboxItem,
    Store,
    StoreCorrupt,
    StoreError,
    StoreNotFound,
    StoreNotWritable,
    StoreSchemaError,
    StoreValueError,
)
from edge.store import schema as store_schema

TS = "2026-11-23T18:14:27.123Z"
DEVICE = "cab-0042"


class Boom(Exception):
    pass


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "edge.db"


@pytest.fixture
def store(db_path: Path) -> Any:
    opened = Store(db_path, DEVICE)
    yield opened
    opened.close()


def add_bank_in(store: Store, slot: int = 1) -> dict[str, Any]:
    with store.transaction() as tx:
        return tx.add_record(
            "bank_in", {"slot": slot, "bank_id": f"PB{slot}"}, ts=TS, clock_synced=True
        )


def records(store: Store) -> list[dict[str, Any]]:
    return [
        json.loads(item.payload)
        for item in store.outbox_pending(limit=10_000)
        if item.topic == "records"
    ]


def test_record_has_the_common_fields_and_is_published_as_returned(store: Store) -> None:
    record = add_bank_in(store, slot=3)
    assert record == {
        "record_id": record["record_id"],
        "seq": 1,
        "device_id": DEVICE,
        "type": "bank_in",
        "ts": TS,
        "clock_synced": True,
        "slot": 3,
        "bank_id": "PB3",
    }
    assert uuid.UUID(record["record_id"]).version == 4
    [item] = store.outbox_pending()
    assert item.topic == "records"
    assert json.loads(item.payload.decode("utf-8")) == record


def test_seqs_are_gapless_across_transactions_and_reopen(db_path: Path) -> None:
    store = Store(db_path, DEVICE)
    for slot in range(50):
        add_bank_in(store, slot)
    store.close()
    store = Store(db_path, DEVICE)
    assert store.last_record_seq() == 50
    with store.transaction() as tx:
        tx.add_record("bank_in", {"slot": 1}, ts=TS, clock_synced=False)
        tx.add_record("bank_in", {"slot": 2}, ts=TS, clock_synced=False)
    assert [r["seq"] for r in records(store)] == list(range(1, 53))
    store.close()


def test_rollback_on_exception_leaves_no_trace(store: Store) -> None:
    with store.transaction() as tx:
        tx.put_state("rental", {"state": "booked"})
    add_bank_in(store)
    before = (store.outbox_pending(), store.last_record_seq(), store.get_state("rental"))

    def write_everything_then_fail() -> None:
        with store.transaction() as tx:
            tx.put_state("rental", {"state": "active"})
            tx.delete_state("rental")
            tx.put_state("other", 1)
            tx.add_record("rental_started", {"order_id": "o1"}, ts=TS, clock_synced=True)
            tx.add_reply({"command_id": "c1", "status": "ok"})
            assert tx.accept_command("c1", 1e12)
            raise Boom

    with pytest.raises(Boom):
        write_everything_then_fail()
    assert (store.outbox_pending(), store.last_record_seq(), store.get_state("rental")) == before
    assert store.get_state("other") is None
    assert not store.command_seen("c1")
    assert add_bank_in(store)["seq"] == 2


def test_a_caught_database_error_still_rolls_the_transaction_back(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_execute = store._db.execute

    def disk_full_on_outbox(action: str, sql: str, params: tuple[Any, ...] = ()) -> int:
        if sql.startswith("INSERT INTO outbox"):
            raise StoreError("database or disk is full (simulated)")
        return real_execute(action, sql, params)

    def carry_on_after_the_error() -> None:
        with store.transaction() as tx:
            tx.put_state("k", 1)
            monkeypatch.setattr(store._db, "execute", disk_full_on_outbox)
            with pytest.raises(StoreError, match="disk is full"):
                tx.add_record("bank_in", {"slot": 1}, ts=TS, clock_synced=True)  # seq advanced
            monkeypatch.undo()
            with pytest.raises(StoreError, match="will be rolled back"):
                tx.put_state("k", 2)

    with pytest.raises(StoreError, match="rolled back after an error"):
        carry_on_after_the_error()
    assert store.last_record_seq() == 0
    assert store.get_state("k") is None
    assert add_bank_in(store)["seq"] == 1


def test_bad_values_are_refused_before_anything_is_written(store: Store) -> None:
    with store.transaction() as tx:
        with pytest.raises(StoreValueError, match="replace the common fields"):
            tx.add_record("bank_in", {"seq": 7}, ts=TS, clock_synced=True)
        with pytest.raises(StoreValueError, match="not JSON"):
            tx.add_record("bank_in", {"at": object()}, ts=TS, clock_synced=True)
        with pytest.raises(StoreValueError, match="not JSON"):
            tx.put_state("k", math.inf)
        with pytest.raises(StoreValueError, match="not JSON"):
            tx.add_reply({"detail": "\ud800"})  # a lone surrogate is not UTF-8
        with pytest.raises(StoreValueError, match="expiry"):
            tx.accept_command("c1", math.nan)
        record = tx.add_record("bank_in", {"slot": 1}, ts=TS, clock_synced=True)
    assert record["seq"] == 1
    assert store.outbox_depth() == 1


def test_outbox_keeps_write_order_and_replies_take_no_seq(store: Store) -> None:
    with store.transaction() as tx:
        tx.add_reply({"command_id": "c0", "status": "rejected", "code": "busy"})
        first = tx.add_record("bank_out", {"slot": 1}, ts=TS, clock_synced=True)
        tx.add_reply({"command_id": "c1", "status": "ok", "result": first})
    second = add_bank_in(store)
    with store.transaction() as tx:
        tx.add_reply({"command_id": "c2", "status": "ok"})

    items = store.outbox_pending()
    assert [i.topic for i in items] == ["replies", "records", "replies", "records", "replies"]
    assert [i.id for i in items] == sorted({i.id for i in items})
    assert [json.loads(i.payload).get("seq") for i in items] == [None, 1, None, 2, None]
    assert json.loads(items[2].payload)["result"] == first
    assert json.loads(items[3].payload) == second
    assert store.last_record_seq() == 2

    assert store.outbox_pending(after_id=items[1].id, limit=2) == items[2:4]
    assert store.outbox_pending(after_id=items[-1].id) == []


def test_ack_deletes_and_ids_are_never_reused(db_path: Path) -> None:
    store = Store(db_path, DEVICE)
    for slot in range(3):
        add_bank_in(store, slot)
    items = store.outbox_pending()
    store.outbox_ack(items[1].id)
    assert store.outbox_pending() == [items[0], items[2]]
    store.outbox_ack(items[1].id)  # acked twice
    store.outbox_ack(10_000)  # never existed
    assert store.outbox_depth() == 2
    for item in (items[0], items[2]):
        store.outbox_ack(item.id)
    assert store.outbox_depth() == 0
    store.close()

    store = Store(db_path, DEVICE)
    record = add_bank_in(store)
    [item] = store.outbox_pending()
    assert item.id > items[-1].id
    assert record["seq"] == 4
    store.close()


def test_record_id_is_fixed_when_written(db_path: Path) -> None:
    store = Store(db_path, DEVICE)
    written = [add_bank_in(store, slot)["record_id"] for slot in range(5)]
    first_read = [r["record_id"] for r in records(store)]
    second_read = [r["record_id"] for r in records(store)]
    store.close()
    store = Store(db_path, DEVICE)
    after_reopen = [r["record_id"] for r in records(store)]
    store.close()
    assert written == first_read == second_read == after_reopen
    assert len(set(written)) == 5


def test_replay_cache_accepts_once_and_forgets_after_expiry(store: Store) -> None:
    with store.transaction() as tx:
        assert tx.accept_command("c1", 100.0)
        assert not tx.accept_command("c1", 500.0)
        assert tx.accept_command("c2", 200.0)
    assert store.command_seen("c1")
    assert store.command_seen("c2")
    assert not store.command_seen("c3")
    with store.transaction() as tx:
        assert not tx.accept_command("c1", 100.0)

    assert store.purge_expired_commands(100.0) == 0  # still valid at its expiry instant
    assert store.purge_expired_commands(100.5) == 1
    assert not store.command_seen("c1")
    assert store.command_seen("c2")
    with store.transaction() as tx:
        assert tx.accept_command("c1", 300.0)
    assert store.purge_expired_commands(1e12) == 2


@pytest.mark.parametrize(
    "value",
    [
        {"state": "active", "order_id": "o-1", "started_mono": 12.5, "tariff": {"cents": 25}},
        [{"slot": 1, "bank_id": None, "enabled": True}, {"slot": 2, "charge_pct": 99}],
        "Grüße, 租车 🚗",
        0,
        -1.5e-300,
        True,
        [],
        {},
    ],
)
def test_state_round_trips_as_json(db_path: Path, value: Any) -> None:
    store = Store(db_path, DEVICE)
    with store.transaction() as tx:
        tx.put_state("key", value)
        assert tx.get_state("key") == value
    assert store.get_state("key") == value
    store.close()
    store = Store(db_path, DEVICE)
    assert store.get_state("key") == value
    with store.transaction() as tx:
        tx.delete_state("key")
        assert tx.get_state("key") is None
    assert store.get_state("key") is None
    store.close()


def test_state_keeps_what_json_keeps(store: Store) -> None:
    with store.transaction() as tx:
        tx.put_state("k", {"pair": (1, 2), 3: "int key"})
    assert store.get_state("k") == {"pair": [1, 2], "3": "int key"}
    assert store.get_state("missing") is None


def test_transaction_misuse_is_refused(store: Store) -> None:
    with store.transaction() as tx:
        with pytest.raises(StoreError, match="while a transaction is open"):
            store.outbox_ack(1)
        with pytest.raises(StoreError, match="while a transaction is open"):
            store.purge_expired_commands(0)
        with (
            pytest.raises(StoreError, match="while a transaction is open"),
            store.transaction(),
        ):
            pass
        tx.put_state("k", 1)
    with pytest.raises(StoreError, match="has ended"):
        tx.put_state("k", 2)
    assert store.get_state("k") == 1


def test_store_belongs_to_the_thread_that_opened_it(store: Store) -> None:
    errors: list[BaseException] = []

    def use() -> None:
        try:
            store.outbox_depth()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=use)
    thread.start()
    thread.join(5)
    assert len(errors) == 1
    assert isinstance(errors[0], StoreError)
    assert "thread" in str(errors[0])


def test_file_has_wal_full_sync_and_schema_version(store: Store, db_path: Path) -> None:
    with store.transaction() as tx:
        tx.put_state("k", 1)
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        raw.close()
    assert store._db.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


@pytest.mark.parametrize(
    ("make_path", "message"),
    [
        (lambda tmp: tmp / "missing" / "edge.db", r"directory .*missing does not exist"),
        (lambda tmp: tmp, r"is a directory, not a file"),
        (lambda tmp: tmp / "plain" / "edge.db", r"plain is not a directory"),
        (lambda tmp: Path("/proc/edge-agent-test.db"), r"cannot open for writing"),
    ],
    ids=["missing-dir", "path-is-dir", "parent-is-file", "unwritable-fs"],
)
def test_unwritable_path_is_named(tmp_path: Path, make_path: Any, message: str) -> None:
    (tmp_path / "plain").write_text("not a directory")
    path = make_path(tmp_path)
    with pytest.raises(StoreNotWritable, match=message) as caught:
        Store(path, DEVICE)
    assert str(path) in str(caught.value)


def test_not_a_database_is_corrupt(db_path: Path) -> None:
    db_path.write_bytes(b"this is no sqlite file" * 100)
    with pytest.raises(StoreCorrupt, match="not a database"):
        Store(db_path, DEVICE)


def test_foreign_database_is_refused(db_path: Path) -> None:
    raw = sqlite3.connect(db_path)
    raw.execute("CREATE TABLE invoices (id INTEGER)")
    raw.commit()
    raw.close()
    with pytest.raises(StoreSchemaError, match="no schema version"):
        Store(db_path, DEVICE)


def test_newer_schema_is_refused(db_path: Path) -> None:
    Store(db_path, DEVICE).close()
    raw = sqlite3.connect(db_path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(StoreSchemaError, match="newer than this agent knows"):
        Store(db_path, DEVICE)
    with pytest.raises(StoreSchemaError, match="newer than this agent knows"):
        Store.open_readonly(db_path)


def test_migration_hook_upgrades_an_existing_file(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(db_path, DEVICE)
    add_bank_in(store)
    store.close()

    def add_notes(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE notes (text TEXT)")
        conn.execute("INSERT INTO notes VALUES ('migrated')")

    monkeypatch.setattr(store_schema, "MIGRATIONS", (*store_schema.MIGRATIONS, add_notes))
    monkeypatch.setattr(store_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    store = Store(db_path, DEVICE)
    store.close()
    Store(db_path, DEVICE).close()  # already migrated: runs nothing twice
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert raw.execute("SELECT text FROM notes").fetchall() == [("migrated",)]
    finally:
        raw.close()


def test_failed_migration_leaves_the_previous_version(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Store(db_path, DEVICE).close()

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise Boom

    monkeypatch.setattr(store_schema, "MIGRATIONS", (*store_schema.MIGRATIONS, broken))
    monkeypatch.setattr(store_schema, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(Boom):
        Store(db_path, DEVICE)
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        names = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
        assert "half_done" not in names
    finally:
        raw.close()


def test_readonly_reader_sees_commits_of_the_running_writer(store: Store, db_path: Path) -> None:
    reader = Store.open_readonly(db_path)
    try:
        assert reader.outbox_depth() == 0
        record = add_bank_in(store)
        with store.transaction() as tx:
            tx.put_state("rental", {"state": "active"})
            tx.accept_command("c1", 1e12)
        assert reader.last_record_seq() == 1
        assert reader.outbox_pending() == [
            OutboxItem(id=1, topic="records", payload=store.outbox_pending()[0].payload)
        ]
        assert json.loads(reader.outbox_pending()[0].payload) == record
        assert reader.get_state("rental") == {"state": "active"}
        assert reader.command_seen("c1")
        assert not hasattr(reader, "transaction")
        with pytest.raises(StoreError, match="readonly"):
            reader._db.execute("probe", "DELETE FROM outbox")
        assert store.outbox_depth() == 1
    finally:
        reader.close()


def test_readonly_reader_never_changes_the_file(db_path: Path) -> None:
    store = Store(db_path, DEVICE)
    add_bank_in(store)
    store.close()
    before = hashlib.sha256(db_path.read_bytes()).hexdigest()
    with Store.open_readonly(db_path) as reader:
        assert reader.last_record_seq() == 1
        assert reader.outbox_depth() == 1
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == before


def test_readonly_open_of_a_missing_store_is_named(tmp_path: Path) -> None:
    with pytest.raises(StoreNotFound, match="does not exist"):
        Store.open_readonly(tmp_path / "nothing.db")
    assert not (tmp_path / "nothing.db").exists()

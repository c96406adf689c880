"""Crash safety with real processes: a writer SIGKILLed at random moments loses no commit."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from edge.store import Store

REPO = Path(__file__).resolve().parent.parent
DEVICE = "crash-box"

# Writes a record, a state snapshot and now and then a reply in one transaction, and
# reports a seq on stdout only after its transaction has returned.
WRITER = """
import sys
from edge.store import Store

store = Store(sys.argv[1], "crash-box")
n = 0
while True:
    with store.transaction() as tx:
        record = tx.add_record(
            "bank_in", {"slot": n % 8, "bank_id": f"PB{n}"},
            ts="2026-11-23T18:14:27.123Z", clock_synced=True,
        )
        tx.put_state("last", {"seq": record["seq"], "record_id": record["record_id"]})
        if n % 3 == 0:
            tx.add_reply({"command_id": f"c{n}", "status": "ok", "result": record})
    print(record["seq"], flush=True)
    n += 1
"""

# (lowest, highest) seconds, and from when: "spawn" rounds may land while the writer starts and
# creates or migrates the file; "writing" rounds count from its first reported commit, so a
# slow start on a loaded machine cannot turn them into kills before any write.
KILL_WINDOWS = [
    (0.0, 0.1, "spawn"),
    (0.0, 0.15, "spawn"),
    (0.05, 0.3, "writing"),
    (0.1, 0.7, "writing"),
    (0.0, 0.2, "writing"),
    (0.2, 0.5, "writing"),
]


def run_and_kill(db_path: Path, delay_s: float, since: str) -> list[int]:
    """The seqs the writer reported committed before SIGKILL `delay_s` after `since`."""
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db_path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = ""
    try:
        if since == "writing":
            assert writer.stdout is not None
            first = writer.stdout.readline()  # blocks until the first commit is reported
        time.sleep(delay_s)
        assert writer.poll() is None, writer.stderr.read() if writer.stderr else ""
        writer.send_signal(signal.SIGKILL)
        rest, _ = writer.communicate(timeout=10)
        stdout = first + rest
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(timeout=10)
    assert writer.returncode == -signal.SIGKILL
    return [int(line) for line in stdout.splitlines(keepends=True) if line.endswith("\n")]


def outbox_contents(store: Store) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    items = store.outbox_pending(limit=1_000_000)
    assert [item.id for item in items] == sorted({item.id for item in items})
    records = [json.loads(item.payload) for item in items if item.topic == "records"]
    replies = [json.loads(item.payload) for item in items if item.topic == "replies"]
    return records, replies


def assert_integrity(db_path: Path) -> None:
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        raw.close()


def test_sigkilled_writer_never_loses_a_committed_record(tmp_path: Path) -> None:
    db_path = tmp_path / "edge.db"
    rng = random.Random(20261123)
    acked_seqs: set[int] = set()
    acked_record_ids: set[str] = set()
    last_seq = 0
    rounds_that_wrote = 0

    for lowest, highest, since in KILL_WINDOWS:
        reported = run_and_kill(db_path, rng.uniform(lowest, highest), since)
        if reported:
            rounds_that_wrote += 1
            assert Path(f"{db_path}-wal").exists()  # killed with the WAL still open
            assert reported == list(range(reported[0], reported[-1] + 1))
            assert reported[0] == last_seq + 1  # a new writer continues where the last stopped
        if not db_path.exists():
            continue  # killed before it created the file

        store = Store(db_path, DEVICE)
        try:
            assert_integrity(db_path)
            records, replies = outbox_contents(store)
            last_seq = store.last_record_seq()
            seqs = [record["seq"] for record in records]
            assert set(seqs).isdisjoint(acked_seqs)
            assert sorted(seqs + list(acked_seqs)) == list(range(1, last_seq + 1))
            assert set(reported) <= set(seqs)
            record_ids = [record["record_id"] for record in records]
            assert len(set(record_ids)) == len(record_ids)
            assert acked_record_ids.isdisjoint(record_ids)
            for reply in replies:
                assert reply["result"]["seq"] <= last_seq
            if last_seq:
                last = store.get_state("last")
                assert last is not None
                assert last["seq"] == last_seq  # state and record committed together
                if records:
                    assert last["record_id"] == records[-1]["record_id"]

            # a publisher acks the older half between rounds
            for item in store.outbox_pending(limit=len(records + replies) // 2):
                body = json.loads(item.payload)
                if item.topic == "records":
                    acked_seqs.add(body["seq"])
                    acked_record_ids.add(body["record_id"])
                store.outbox_ack(item.id)
        finally:
            store.close()

    assert rounds_that_wrote >= sum(since == "writing" for *_, since in KILL_WINDOWS)
    assert last_seq > 0

"""How many durable transactions a second the store takes on this disk (not a test).

Each transaction is what a box does per metered event: a state snapshot and a record (and
every third one a reply) committed together with one fsync; then the publisher's side:
read the outbox in pages and ack each item after its PUBACK.

    .venv/bin/python bench/bench_outbox_store.py [--transactions N] [--dir DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from edge.store import Store

TS = "2026-11-23T18:14:27.123Z"


def write(store: Store, transactions: int) -> float:
    started = time.perf_counter()
    for n in range(transactions):
        with store.transaction() as tx:
            record = tx.add_record(
                "bank_in",
                {"slot": n % 16, "bank_id": f"PB{n:06d}", "charge_pct": 87},
                ts=TS,
                clock_synced=True,
            )
            tx.put_state(
                "cabinet", {"slots": [{"slot": s, "state": "occupied"} for s in range(16)]}
            )
            if n % 3 == 0:
                tx.add_reply({"command_id": f"c{n}", "status": "ok", "result": record})
    return time.perf_counter() - started


def drain(store: Store) -> tuple[int, float]:
    started = time.perf_counter()
    acked = 0
    after_id = 0
    while batch := store.outbox_pending(after_id=after_id, limit=100):
        for item in batch:
            store.outbox_ack(item.id)
            acked += 1
        after_id = batch[-1].id
    return acked, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=2000)
    parser.add_argument("--dir", type=Path, default=None, help="where to put the store file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        store = Store(Path(directory) / "bench.db", "bench-box")
        try:
            count = args.transactions
            elapsed = write(store, count)
            rate = count / elapsed
            print(f"write: {count} tx in {elapsed:.2f} s, {rate:.0f} tx/s, {1e3 / rate:.2f} ms/tx")
            acked, elapsed = drain(store)
            print(f"drain: {acked} items acked in {elapsed:.2f} s, {acked / elapsed:.0f} acks/s")
        finally:
            store.close()


if __name__ == "__main__":
    main()

"""The store against a model: random transactions (some failing mid-way), acks, purges, reopens."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from edge.store import Store

TS = "2026-11-23T18:14:27.123Z"
DEVICE = "box-model"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
state_keys = st.sampled_from(["rental", "slots", "service", "lock"])
command_ids = st.sampled_from([f"cmd-{n}" for n in range(6)])
expiries = st.integers(0, 100).map(float)

operations = st.one_of(
    st.tuples(st.just("put"), state_keys, json_values),
    st.tuples(st.just("delete"), state_keys),
    st.tuples(
        st.just("record"),
        st.dictionaries(st.sampled_from(["slot", "bank_id", "order_id"]), json_values, max_size=2),
    ),
    st.tuples(
        st.just("reply"),
        st.fixed_dictionaries(
            {"command_id": command_ids, "status": st.sampled_from(["ok", "failed"])}
        ),
    ),
    st.tuples(st.just("command"), command_ids, expiries),
)


class Abort(Exception):
    pass


class StoreModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="store-model-"))
        self.store = Store(self.directory / "edge.db", DEVICE)
        self.state: dict[str, Any] = {}
        self.commands: dict[str, float] = {}
        self.outbox: list[tuple[str, Any]] = []  # (topic, published JSON), in write order
        self.acked_seqs: list[int] = []
        self.last_seq = 0
        self.highest_id = 0
        self.pending_ids: set[int] = set()

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.directory)

    @rule(ops=st.lists(operations, max_size=6), abort_at=st.none() | st.integers(0, 6))
    def transaction(self, ops: list[tuple[Any, ...]], abort_at: int | None) -> None:
        state, commands, outbox, last_seq = dict(self.state), dict(self.commands), [], self.last_seq
        try:
            with self.store.transaction() as tx:
                for index, op in enumerate(ops):
                    if index == abort_at:
                        raise Abort
                    match op:
                        case ("put", key, value):
                            tx.put_state(key, value)
                            state[key] = json.loads(json.dumps(value))
                        case ("delete", key):
                            tx.delete_state(key)
                            state.pop(key, None)
                        case ("record", fields):
                            record = tx.add_record("bank_in", fields, ts=TS, clock_synced=False)
                            last_seq += 1
                            assert record["seq"] == last_seq
                            outbox.append(("records", record))
                        case ("reply", reply):
                            tx.add_reply(reply)
                            outbox.append(("replies", reply))
                        case ("command", command_id, expires_at):
                            accepted = tx.accept_command(command_id, expires_at)
                            assert accepted == (command_id not in commands)
                            commands.setdefault(command_id, expires_at)
                    assert tx.get_state("rental") == state.get("rental")
                if abort_at == len(ops):
                    raise Abort
        except Abort:
            return
        self.state, self.commands, self.last_seq = state, commands, last_seq
        self.outbox.extend(outbox)

    @precondition(lambda self: self.outbox)
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        pending = self.store.outbox_pending(limit=1000)
        index = data.draw(st.integers(0, len(pending) - 1))
        self.store.outbox_ack(pending[index].id)
        topic, published = self.outbox.pop(index)
        if topic == "records":
            self.acked_seqs.append(published["seq"])

    @rule(item_id=st.integers(-5, 10_000))
    def ack_unknown(self, item_id: int) -> None:
        known = {item.id for item in self.store.outbox_pending(limit=1000)}
        if item_id not in known:
            self.store.outbox_ack(item_id)

    @rule(now=expiries)
    def purge(self, now: float) -> None:
        expired = {c for c, expires_at in self.commands.items() if expires_at < now}
        assert self.store.purge_expired_commands(now) == len(expired)
        for command_id in expired:
            del self.commands[command_id]

    @rule()
    def reopen(self) -> None:
        self.store.close()
        self.store = Store(self.directory / "edge.db", DEVICE)

    @invariant()
    def records_are_gapless_and_outbox_matches_model(self) -> None:
        pending = self.store.outbox_pending(limit=1000)
        ids = [item.id for item in pending]
        assert ids == sorted(set(ids))
        # an item is either one seen before or new with an id above every id ever seen
        assert all(i in self.pending_ids or i > self.highest_id for i in ids)
        self.pending_ids = set(ids)
        self.highest_id = max([self.highest_id, *ids])

        published = [(item.topic, json.loads(item.payload)) for item in pending]
        assert published == self.outbox
        seqs = [body["seq"] for topic, body in published if topic == "records"]
        assert sorted(seqs + self.acked_seqs) == list(range(1, self.last_seq + 1))
        assert self.store.last_record_seq() == self.last_seq
        assert self.store.outbox_depth() == len(self.outbox)

    @invariant()
    def state_and_replay_cache_match_model(self) -> None:
        for key in ["rental", "slots", "service", "lock"]:
            assert self.store.get_state(key) == self.state.get(key)
        for command_id in [f"cmd-{n}" for n in range(6)]:
            assert self.store.command_seen(command_id) == (command_id in self.commands)


StoreModel.TestCase.settings = settings(max_examples=40, stateful_step_count=25, deadline=None)
TestStoreModel = StoreModel.TestCase

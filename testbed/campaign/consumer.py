"""The cloud side that judges the campaign. It knows the contract and what the harness did
(the session ledger, the simulators' lines, the envelopes it sent again), never the agent's
internals: what it checks is what a backend consuming `records` and `replies` could check."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from testbed.campaign.box import CampaignBox
from testbed.campaign.findings import Findings
from testbed.campaign.sessions import TARIFF, Session
from testbed.waiting import wait_until

DURATION_SLACK_S = 2.0
DRAIN_S = 120.0
SYNCED_SLACK_S = 120.0


def outbox_depth(box: CampaignBox) -> int | None:
    """`edge-agent outbox --json` beside the running box (contract section 6)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "edge.cli",
            "outbox",
            "--config",
            str(box.rig.config_path),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    depth: int = json.loads(done.stdout)["depth"]
    return depth


def drained(box: CampaignBox, findings: Findings) -> None:
    """Waits until the box has nothing left for the broker, and the cloud has it all."""
    try:
        wait_until(lambda: outbox_depth(box) == 0, DRAIN_S, f"{box.device_id}: outbox drained")
        time.sleep(1.0)  # the last PUBACKed message is on its way to the cloud client
    except TimeoutError as exc:
        findings.check("lost", False, str(exc))


def expected_charges(ended: dict[str, Any], tariff: dict[str, Any]) -> dict[str, Any]:
    """Contract section 4, from the record's own numbers."""
    minutes = math.ceil(Decimal(ended["duration_s"]) / 60)
    time_cents = minutes * tariff["per_minute_cents"]
    used = Decimal(str(ended["fuel_start_pct"])) - Decimal(str(ended["fuel_end_pct"]))
    fuel = Decimal(str(tariff["tank_litres"])) * used / 100 * tariff["fuel_price_cents_per_litre"]
    fuel_cents = int(fuel.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    per_km = tariff.get("per_km_cents", 0)
    distance = Decimal(str(ended["distance_km"])) * per_km
    distance_cents = int(distance.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return {
        "time_cents": time_cents,
        "fuel_cents": fuel_cents,
        "distance_cents": distance_cents,
        "total_cents": time_cents + fuel_cents + distance_cents,
        "currency": tariff["currency"],
    }


@dataclass(frozen=True)
class Replay:
    """An envelope sent when it must not be obeyed: every reply to it after `mark` must be
    rejected with one of `codes`."""

    what: str
    command_id: str
    mark: int
    codes: frozenset[str]


def _bounds(session: Session) -> tuple[float, float] | None:
    """The real seconds a session's metered time can have lasted, from what the harness saw."""
    started_lo, started_hi = session.started_lo, session.started_hi
    ended_lo, ended_hi = session.ended_lo, session.ended_hi
    if started_lo is None or started_hi is None or ended_lo is None or ended_hi is None:
        return None
    return ended_lo - started_hi - DURATION_SLACK_S, ended_hi - started_lo + DURATION_SLACK_S


def _epoch(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


class Consumer:
    """Judges one box's messages against the contract and the harness's ledger."""

    def __init__(self, box: CampaignBox, findings: Findings, run_started_wall: float) -> None:
        self.box = box
        self.findings = findings
        self.run_started_wall = run_started_wall
        self.name = box.device_id

    def judge(self, sessions: list[Session], replays: Sequence[Replay] = ()) -> None:
        drained(self.box, self.findings)
        messages = self.box.rig.on_topic("records")
        records = self._unique(messages)
        self._seq(records)
        self._twice(records)
        self._sessions(records, sessions)
        self._durations_and_charges(records, sessions)
        self._replies(replays)
        self._clock(records)
        self.findings.count("records", len(records))

    def _unique(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        by_id: dict[str, dict[str, Any]] = {}
        for record in messages:
            first = by_id.setdefault(record["record_id"], record)
            self.findings.check(
                "twice",
                first == record,
                f"{self.name}: record_id {record['record_id']} sent with two contents",
            )
        return sorted(by_id.values(), key=lambda r: r["seq"])

    def _seq(self, records: list[dict[str, Any]]) -> None:
        seqs = [r["seq"] for r in records]
        expected = list(range(1, len(records) + 1))
        missing = sorted(set(range(1, max(seqs, default=0) + 1)) - set(seqs))
        self.findings.check(
            "seq", seqs == expected, f"{self.name}: seqs not 1..n; missing {missing[:10]}"
        )
        self.findings.check("lost", not missing, f"{self.name}: seqs never received {missing[:10]}")

    def _twice(self, records: list[dict[str, Any]]) -> None:
        seqs = Counter(r["seq"] for r in records)
        doubled = [seq for seq, n in seqs.items() if n > 1]
        self.findings.check(
            "twice", not doubled, f"{self.name}: seqs with two record_ids {doubled}"
        )
        keys = Counter(
            (r["type"], r.get("order_id"), r.get("slot")) for r in records if r["type"] != "bank_in"
        )
        again = [key for key, n in keys.items() if n > 1]
        self.findings.check("twice", not again, f"{self.name}: one event recorded twice: {again}")

    def _sessions(self, records: list[dict[str, Any]], sessions: list[Session]) -> None:
        have = {(r["type"], r.get("order_id")) for r in records}
        outs = {(r.get("order_id"), r.get("slot")) for r in records if r["type"] == "bank_out"}
        ins = Counter((r["slot"], r["bank_id"]) for r in records if r["type"] == "bank_in")
        inserted: Counter[tuple[int, str]] = Counter()
        sim = self.box.rig.sim
        for session in sessions:
            lines = sim.logged(None, session.sim_from)[: max(0, session.sim_to - session.sim_from)]
            order = session.order_id
            where = f"{self.name} {order}"
            self.findings.check("serving", session.finished, f"{where}: never finished {session}")
            if session.kind == "vehicle":
                unlocked = any(
                    line.get("event") == "lock" and line.get("state") == "unlocked"
                    for line in lines
                )
                if unlocked:
                    self.findings.check(
                        "physical",
                        ("rental_started", order) in have,
                        f"{where}: the car unlocked and no rental_started",
                    )
                if session.finished:
                    self.findings.check(
                        "lost", ("rental_ended", order) in have, f"{where}: no rental_ended"
                    )
            elif session.kind == "parking":
                lowered = any(
                    line.get("event") == "position" and line.get("position") == "lowered"
                    for line in lines
                )
                if lowered:
                    self.findings.check(
                        "physical",
                        ("parking_started", order) in have,
                        f"{where}: the arm lowered and no parking_started",
                    )
                if session.finished:
                    self.findings.check(
                        "lost", ("parking_ended", order) in have, f"{where}: no parking_ended"
                    )
            else:
                for line in lines:
                    if line.get("event") == "taken":
                        self.findings.check(
                            "lost",
                            (order, line["slot"]) in outs,
                            f"{where}: bank taken from slot {line['slot']} and no bank_out",
                        )
                for note in session.notes:
                    self.findings.check("physical", "no reply" not in note, f"{where}: {note}")
                inserted.update(session.inserts)
        for (slot, bank), count in inserted.items():
            self.findings.check(
                "lost",
                ins[(slot, bank)] >= count,
                f"{self.name}: {count} inserts of {bank} into {slot}, {ins[(slot, bank)]} bank_in",
            )

    def _durations_and_charges(
        self, records: list[dict[str, Any]], sessions: list[Session]
    ) -> None:
        by_order = {s.order_id: s for s in sessions}
        for record in records:
            if "duration_s" not in record:
                continue
            where = f"{self.name} {record.get('order_id')}"
            duration = record["duration_s"]
            self.findings.check("duration", duration >= 0, f"{where}: duration {duration} < 0")
            session = by_order.get(record.get("order_id", ""))
            bounds = _bounds(session) if session is not None else None
            if bounds is not None:
                low, high = bounds
                self.findings.check(
                    "duration",
                    low <= duration <= high,
                    f"{where}: duration_s {duration}, real time between {low:.1f} and {high:.1f}",
                )
            if record["type"] == "rental_ended":
                expected = expected_charges(record, TARIFF)
                # distance_cents (1.1) is 0 without per_km_cents: absent reads as 0
                charges = {k: record["charges"].get(k, 0) for k in expected}
                self.findings.check(
                    "charges", charges == expected, f"{where}: charges {charges} != {expected}"
                )

    def _replies(self, replays: Sequence[Replay]) -> None:
        # What the harness sent again on purpose is judged by the replay check below: an obeyed
        # command sent again once it has expired is rightly answered `expired` the second time.
        resent = {
            json.dumps(reply, sort_keys=True)
            for replay in replays
            for reply in self.box.rig.on_topic("replies", replay.mark)
            if reply.get("command_id") == replay.command_id
        }
        replies: dict[str, set[str]] = {}
        for reply in self.box.rig.on_topic("replies"):
            if reply.get("code") == "replayed":
                continue  # a redelivery refused: never a second answer
            if reply.get("code") is not None and json.dumps(reply, sort_keys=True) in resent:
                continue
            replies.setdefault(str(reply["command_id"]), set()).add(
                json.dumps(reply, sort_keys=True)
            )
        answered_twice = {cid: seen for cid, seen in replies.items() if len(seen) > 1}
        self.findings.check(
            "twice", not answered_twice, f"{self.name}: commands answered two ways {answered_twice}"
        )
        for replay in replays:
            later = [
                r
                for r in self.box.rig.on_topic("replies", replay.mark)
                if r.get("command_id") == replay.command_id
            ]
            self.findings.check(
                "replay",
                bool(later) and all(r["code"] in replay.codes for r in later),
                f"{self.name}: {replay.what}: replies {later}, expected {sorted(replay.codes)}",
            )

    def _clock(self, records: list[dict[str, Any]]) -> None:
        """A record that says its clock was synchronised has real times in every timestamp
        (`ts` and each `*_at`: a rental's start, a bank's reservation and eject)."""
        low = self.run_started_wall - SYNCED_SLACK_S
        high = time.time() + SYNCED_SLACK_S
        for record in records:
            if not record.get("clock_synced"):
                continue
            stamps = [
                v
                for k, v in record.items()
                if (k == "ts" or k.endswith("_at")) and isinstance(v, str)
            ]
            wrong = [s for s in stamps if not low <= _epoch(s) <= high]
            self.findings.check(
                "clock",
                not wrong,
                f"{self.name} seq {record['seq']} {record['type']}: clock_synced true with {wrong}",
            )

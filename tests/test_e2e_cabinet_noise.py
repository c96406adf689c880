"""Over noisy lines (each bit flipped with probability 1e-3, each byte lost with 1e-3, both
ways), over 1,000 banks are rented, taken and put back end to end, through signed commands,
mosquitto, the agent process and `edge-sim cabinet` on a pty: no bank is ever pushed out of a
slot the box did not ask for, none twice for one request, every eject the box reports happened,
and every bank taken is billed once, with the bank the board pushed out.

At this noise a third of the answers is lost, and each lost answer costs the line its 100 ms
timeout (PROTOCOL.md section 6), so one line carries about ten ejects a second with their
events. Three cabinets, each its own agent and line, share the work side by side.

The renters are quick: each ejected bank is taken at once and pushed back into another slot
just emptied (so that a re-reading after lost events still tells a bank taken from one never
taken), and the next rent of 8 follows as soon as the banks of the rent before last are back.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cabinet_rig import DEVICE, CabinetRig, cabinet_rig

from testbed.broker import Received
from testbed.rig import assert_agent_serving, assert_records_sound, wait_until

EJECTS = 1000
CABINETS = 3  # each on its own line, side by side: a lost answer costs the line 100 ms
BANKS_PER_RENT = 8
IN_FLIGHT = 2
NOISE = {"ber": 1e-3, "drop": 1e-3}
SIM_ARGS = ("--boards", "3", "--slots", "16", "--latch-ms", "0", "--charge-step-s", "0")
CABINET = {
    "min_charge_pct": 0,  # every bank is rentable: the cabinet holds ~38 of them
    "take_timeout_s": 30.0,
    "event_poll_s": 0.2,
    "inventory_poll_s": 30.0,
}
REPLY_TIMEOUT_S = 20.0


@dataclass
class Rent:
    command_id: str
    order_id: str
    reply: dict[str, Any] = field(default_factory=dict)
    pushed: list[tuple[int, str]] = field(default_factory=list)  # (slot, bank_id) by the sim


class Watch:
    """What the cloud and the simulator said, each message parsed once (there are thousands)."""

    def __init__(self, rig: CabinetRig) -> None:
        self.rig = rig
        self.replies: dict[str, dict[str, Any]] = {}
        self.records: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.sim: list[dict[str, Any]] = []
        self._cloud_read = 0
        self._sim_read = 0

    def _take_cloud(self, messages: list[Received]) -> None:
        replies, records = self.rig.topic("replies"), self.rig.topic("records")
        events = self.rig.topic("events")
        for message in messages[self._cloud_read :]:
            if message.topic == events:
                self.events.append(message.json())
            elif message.topic == replies:
                reply = message.json()
                self.replies.setdefault(reply["command_id"], reply)
            elif message.topic == records:
                record = message.json()
                self.records.setdefault(record["record_id"], record)
        self._cloud_read = len(messages)

    def until(self, done: Any, timeout: float = REPLY_TIMEOUT_S) -> None:
        def check(messages: list[Received]) -> bool:
            self._take_cloud(messages)
            return bool(done())

        self.rig.cloud.wait_until(check, timeout)

    def _take_sim(self) -> None:
        raw = self.rig.sim.raw
        while self._sim_read < len(raw):
            self.sim.append(json.loads(raw[self._sim_read]))
            self._sim_read += 1

    def sim_until(self, done: Any, timeout: float = 10.0) -> None:
        def seen() -> bool:
            self._take_sim()
            return bool(done())

        wait_until(seen, timeout, lambda: f"simulator: not seen; last {self.sim[-5:]}")

    def sim_lines(self, event: str, since: int = 0) -> list[dict[str, Any]]:
        return [line for line in self.sim[since:] if line["event"] == event]

    def of_type(self, record_type: str) -> list[dict[str, Any]]:
        return [r for r in self.records.values() if r["type"] == record_type]


def returns(taken: list[int], free: set[int]) -> list[tuple[int, int]]:
    """(from, into): each bank taken goes back into another slot, so that a reading after lost
    events still tells a bank taken and returned from one never taken. They swap round the
    slots just emptied, or a lone one goes into a free slot (and its own joins the free)."""
    if len(taken) != 1:
        return list(zip(taken, taken[1:] + taken[:1], strict=True))
    into = min(free)
    free.remove(into)
    free.add(taken[0])
    return [(taken[0], into)]


@dataclass
class Tally:
    """One cabinet's figures; `wrong` and `double` are the ejects that must never happen."""

    rents: int = 0
    refused: int = 0
    ejects_confirmed: int = 0
    ejects_physical: int = 0
    wrong: list[tuple[str, int]] = field(default_factory=list)  # pushed, never asked for
    double: list[tuple[str, int]] = field(default_factory=list)  # pushed twice for one ask
    claimed: list[tuple[str, int]] = field(default_factory=list)  # said ejected, never pushed
    pushed_but_failed: int = 0  # pushed, but the box could not confirm it: said failed
    link: dict[str, Any] = field(default_factory=dict)
    sim_bad_frames: int = 0


def rent_and_return(rig: CabinetRig, ejects: int) -> Tally:
    """Rent banks 8 at a time until `ejects` were ejected, each taken and put back; then
    check what the simulator did against what the box said."""
    watch = Watch(rig)
    rig.slots()  # the box has read the cabinet
    rig.fault("noise", True, **NOISE)
    tally = Tally()
    rents: list[Rent] = []
    free = {n for n, slot in rig.sim_slots().items() if not slot["bank_present"]}
    totals = [0] * IN_FLIGHT  # banks ejected after each rent
    while tally.ejects_confirmed < ejects:
        # The last IN_FLIGHT rents' banks may be on their way back in, no more.
        watch.until(lambda n=totals[-IN_FLIGHT]: len(watch.of_type("bank_in")) >= n, 30)
        watch.sim_until(lambda: True)
        mark = len(watch.sim)
        order = f"order-{len(rents) + 1}"
        rent = Rent(rig.send_command("rent", order_id=order, count=BANKS_PER_RENT), order)
        watch.until(lambda rent=rent: rent.command_id in watch.replies)
        rent.reply = watch.replies[rent.command_id]
        if rent.reply["status"] == "rejected":
            tally.refused += 1  # too few banks back in yet
            time.sleep(0.1)
            continue
        rents.append(rent)
        ejected = rent.reply["result"]["ejected"]
        # The board pushed them out before it answered the box: their lines are on the way.
        watch.sim_until(lambda e=ejected, m=mark: len(watch.sim_lines("eject", m)) >= len(e))
        lines = watch.sim_lines("eject", mark)
        rent.pushed = [(line["slot"], line["bank_id"]) for line in lines]
        banks = {line["slot"]: line for line in lines if line["slot"] in ejected}
        for slot in banks:
            rig.sim.send(op="take", slot=slot)
        for slot, into in returns(list(banks), free):
            bank = banks[slot]
            rig.sim.send(
                op="insert", slot=into, bank_id=bank["bank_id"], charge_pct=bank["charge_pct"]
            )
        tally.ejects_confirmed += len(ejected)
        totals.append(tally.ejects_confirmed)

    # Every bank taken is billed once, and every one put back is seen.
    owed = {(r.order_id, slot) for r in rents for slot in r.reply["result"]["ejected"]}
    watch.until(lambda: len(watch.of_type("bank_out")) >= len(owed), 60)
    watch.until(lambda: len(watch.of_type("bank_in")) >= len(owed), 60)
    time.sleep(0.5)  # anything late from the boards would show now
    watch.sim_until(lambda: True)
    state = rig.sim.state()
    rig.fault("noise", False)
    tally.link = rig.telemetry(lambda t: True)["link"]
    tally.sim_bad_frames = state["counters"]["bad_frames"]
    tally.rents = len(rents)

    asked_by: dict[str, list[int]] = {}
    for line in rig.agent_lines("cabinet.eject_sent"):
        asked_by.setdefault(line["command_id"], []).append(line["slot"])
    for rent in rents:
        asked = asked_by[rent.command_id]
        pushed = Counter(slot for slot, _ in rent.pushed)
        result = rent.reply["result"]
        failed = {f["slot"] for f in result["failed"]}
        assert sorted(result["ejected"] + list(failed)) == sorted(asked)
        tally.wrong += [(rent.order_id, slot) for slot in pushed if slot not in asked]
        tally.double += [(rent.order_id, slot) for slot, n in pushed.items() if n > 1]
        tally.claimed += [(rent.order_id, s) for s in result["ejected"] if s not in pushed]
        tally.pushed_but_failed += len(set(pushed) & failed)
    tally.ejects_physical = len(watch.sim_lines("eject"))
    assert tally.ejects_physical == sum(len(rent.pushed) for rent in rents)
    assert tally.ejects_physical == sum(state["counters"]["ejects"].values())

    outs = watch.of_type("bank_out")
    billed = Counter((r["order_id"], r["slot"]) for r in outs)
    assert set(billed) == owed
    assert set(billed.values()) == {1}
    pushed_banks = {(r.order_id, slot): bank for r in rents for slot, bank in r.pushed}
    assert all(r["bank_id"] == pushed_banks[(r["order_id"], r["slot"])] for r in outs)
    # Nothing else was seen happen: each bank put back once, no bank pulled out, no latch open
    # but those the box could not confirm it had opened.
    assert len(watch.of_type("bank_in")) == len(owed)
    kinds = Counter(event["type"] for event in watch.events)
    assert kinds["forced_removal"] == 0
    assert kinds["slot_unlocked"] == tally.pushed_but_failed
    assert not watch.sim_lines("error")
    assert_records_sound(sorted(watch.records.values(), key=lambda r: r["seq"]), DEVICE)
    assert_agent_serving(rig)
    return tally


def one_cabinet(workdir: Path, seed: int) -> Tally:
    sim_args = (*SIM_ARGS, "--seed", str(seed))
    with cabinet_rig(workdir, sim_args=sim_args, cabinet=CABINET) as rig:
        return rent_and_return(rig, -(-EJECTS // CABINETS))


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_a_thousand_ejects_over_noisy_lines(tmp_path: Path) -> None:
    started = time.monotonic()
    with ThreadPoolExecutor(CABINETS) as pool:
        runs = [pool.submit(one_cabinet, tmp_path / f"cabinet-{n}", n) for n in range(CABINETS)]
        tallies = [run.result() for run in runs]
    figures = {
        "cabinets": CABINETS,
        "seconds": round(time.monotonic() - started, 1),
        "rents": sum(t.rents for t in tallies),
        "refused": sum(t.refused for t in tallies),
        "ejects_confirmed": sum(t.ejects_confirmed for t in tallies),
        "ejects_physical": sum(t.ejects_physical for t in tallies),
        "wrong_slot": sum(len(t.wrong) for t in tallies),
        "double": sum(len(t.double) for t in tallies),
        "claimed_not_pushed": sum(len(t.claimed) for t in tallies),
        "pushed_but_reported_failed": sum(t.pushed_but_failed for t in tallies),
        "sim_bad_frames": sum(t.sim_bad_frames for t in tallies),
        **{
            key: sum(t.link[key] for t in tallies)
            for key in ("frames_sent", "retries", "timeouts", "crc_errors", "resyncs", "overflows")
        },
    }
    print("noise figures:", json.dumps(figures))
    assert [(t.wrong, t.double, t.claimed) for t in tallies] == [([], [], [])] * CABINETS
    assert figures["ejects_physical"] >= EJECTS
    assert all(t.link["retries"] > 0 and t.sim_bad_frames > 0 for t in tallies)

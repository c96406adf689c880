"""One rental, eject or parking session on a CampaignBox, driven to its end through whatever
fault the plan puts in it. The driver reads the box's state from telemetry after every fault and
asks again with a fresh command where the killed one did not take effect, as a backend would;
what it did goes into a `Ledger` entry for the consumer."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from testbed.campaign.box import REPLY_AFTER_FAULT_S, REPLY_S, CampaignBox

FaultKind = Literal[
    "cut", "kill", "unacked", "unacked_cut", "outage", "clock_jump", "clock_synced", "hook"
]
FaultPoint = Literal["sent", "accepted", "idle"]
TARIFF = {
    "per_minute_cents": 25,
    "fuel_price_cents_per_litre": 189,
    "tank_litres": 50,
    "currency": "EUR",
}
MAX_STEPS = 16
FUEL_PER_DRIVE_PCT = 1.0
FULL_TANK_PCT = 95.0


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    at: FaultPoint
    step: str  # the command (or idle moment) it hits
    delay_s: float
    hook: Callable[[CampaignBox], None] | None = None  # for "hook" and "outage"


@dataclass
class Session:
    """What the harness did in one session and saw happen, in its own monotonic time."""

    kind: str
    order_id: str
    sim_from: int = 0  # the simulator's lines of this session: sim.raw[sim_from:sim_to]
    sim_to: int = 0
    started_lo: float | None = None  # the metered time began after this ...
    started_hi: float | None = None  # ... and before this
    ended_lo: float | None = None
    ended_hi: float | None = None
    finished: bool = False
    faults: list[Fault] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    inserts: list[tuple[int, str]] = field(default_factory=list)  # cabinet: banks put back


def inject(box: CampaignBox, fault: Fault, command_id: str | None) -> None:
    if fault.at == "accepted" and command_id is not None and box.rig.agent is not None:
        with contextlib.suppress(TimeoutError):  # refused: the fault hits it anyway
            box.rig.agent.wait_logged("command.accepted", timeout=10, command_id=command_id)
    if fault.hook is not None:
        fault.hook(box)
        return
    if fault.kind in ("unacked", "unacked_cut"):
        box.unacked_kill(fault.delay_s, cut=fault.kind == "unacked_cut")
    else:
        time.sleep(fault.delay_s)
        if fault.kind == "cut":
            box.power_cut()
        else:
            box.sigkill()
    box.serving_again()


def ask(
    box: CampaignBox, session: Session, command_type: str, faults: dict[str, Fault], **args: Any
) -> tuple[dict[str, Any] | None, float]:
    """Sends a fresh command (a fault of the plan may hit it); its reply, or None when the
    fault lost it; and when it was sent."""
    envelope = box.envelope(command_type, **args)
    sent_at = time.monotonic()
    box.send(envelope)
    fault = faults.pop(command_type, None)
    if fault is not None:
        session.faults.append(fault)
        inject(box, fault, envelope["id"])
        return box.reply(envelope["id"], REPLY_AFTER_FAULT_S), sent_at
    return box.reply(envelope["id"], REPLY_S), sent_at


def idle_fault(box: CampaignBox, session: Session, faults: dict[str, Fault], step: str) -> None:
    fault = faults.pop(step, None)
    if fault is not None:
        session.faults.append(fault)
        inject(box, fault, None)


def refuel(box: CampaignBox) -> None:
    """Between rentals, a tank that could not take another drive is filled up (every drive
    burns FUEL_PER_DRIVE_PCT; hundreds of rentals would empty it)."""
    state = box.telemetry(lambda t: t["rental"] == "none" and t["fuel_pct"] is not None)
    if state["fuel_pct"] < 2 * FUEL_PER_DRIVE_PCT:
        box.rig.sim.send(op="set", fuel_pct=FULL_TANK_PCT)
        box.telemetry(lambda t: t["fuel_pct"] >= FULL_TANK_PCT - 1)  # CAN rounds it


def vehicle(box: CampaignBox, order: str, faults: dict[str, Fault]) -> Session:
    if box.telemetry()["rental"] == "none":
        refuel(box)
    session = Session("vehicle", order, sim_from=len(box.rig.sim.raw))
    drove = False
    for _ in range(MAX_STEPS):
        state = box.telemetry(lambda t: t["lock"] in ("locked", "unlocked"))
        if state["rental"] == "none":
            if box.record("rental_started", 0, order_id=order) is not None:
                session.finished = box.record("rental_ended", REPLY_S, order_id=order) is not None
                break
            ask(box, session, "start_rental", faults, order_id=order, renter="r", tariff=TARIFF)
        elif state["rental"] == "booked":
            reply, sent = ask(box, session, "unlock", faults, order_id=order)
            session.started_lo = session.started_lo or sent
            if reply is not None and reply["status"] == "ok":
                session.started_hi = time.monotonic()
        elif not drove:
            drove = True
            drive_from = len(box.rig.sim.raw)
            box.rig.sim.send(op="engine", running=True)
            box.rig.sim.send(op="drive", km=1.5, fuel_pct_used=FUEL_PER_DRIVE_PCT, seconds=0.5)
            idle_fault(box, session, faults, "drive")
            box.rig.sim.wait_logged("drive", drive_from, timeout=20, done=True)
            box.rig.sim.send(op="engine", running=False)
            box.telemetry(lambda t: t["engine_running"] is False)
        else:
            reply, sent = ask(box, session, "end_rental", faults, order_id=order)
            session.ended_lo = sent
            if reply is not None and reply["status"] == "ok":
                session.ended_hi = time.monotonic()
                session.finished = True
                break
            if reply is not None and reply["code"] == "not_allowed":
                box.telemetry(lambda t: t["engine_running"] is False and t["doors_closed"])
    session.sim_to = len(box.rig.sim.raw)
    return session


def parking(box: CampaignBox, order: str, faults: dict[str, Fault]) -> Session:
    session = Session("parking", order, sim_from=len(box.rig.sim.raw))
    parked = False
    for _ in range(MAX_STEPS):
        state = box.telemetry(lambda t: t["lock"] in ("raised", "lowered"))
        if state["lock"] == "raised":
            if box.record("parking_started", 0, order_id=order) is not None:
                session.finished = box.record("parking_ended", REPLY_S, order_id=order) is not None
                break
            reply, sent = ask(box, session, "lower", faults, order_id=order)
            session.started_lo = session.started_lo or sent
            if reply is not None and reply["status"] == "ok":
                session.started_hi = time.monotonic()
        elif not parked:
            parked = True
            box.rig.sim.send(op="car", present=True)
            idle_fault(box, session, faults, "car")
            box.telemetry(lambda t: t["occupied"] is True)
            box.rig.sim.send(op="car", present=False)
            box.telemetry(lambda t: t["occupied"] is False)
        else:
            reply, sent = ask(box, session, "raise", faults, order_id=order)
            session.ended_lo = sent
            if reply is not None and reply["status"] == "ok":
                session.ended_hi = time.monotonic()
                session.finished = True
                break
    session.sim_to = len(box.rig.sim.raw)
    return session


def cabinet(box: CampaignBox, order: str, faults: dict[str, Fault]) -> Session:
    """Rent one bank, take it, put it back into the slot it came from."""
    session = Session("cabinet", order, sim_from=len(box.rig.sim.raw))
    for _ in range(MAX_STEPS):
        since = len(box.rig.sim.raw)
        reply, _ = ask(box, session, "rent", faults, order_id=order, count=1)
        ejected = box.rig.sim.logged("eject", since)
        if reply is None and ejected:
            reply = box.reply(box.sent[-1]["id"], REPLY_S)  # owed: the eject happened
            if reply is None:
                session.notes.append(f"eject of slot {ejected[0]['slot']} and no reply")
        slots = reply["result"]["ejected"] if reply and reply.get("result") else []
        if not slots and ejected:
            slots = [ejected[0]["slot"]]
        if not slots:
            continue
        slot = slots[0]
        take_from = len(box.rig.sim.raw)
        box.rig.sim.send(op="take", slot=slot)
        try:
            box.rig.sim.wait_logged("taken", take_from, timeout=5, slot=slot)
        except TimeoutError:
            session.notes.append(f"slot {slot} was locked back before the take")
            continue
        idle_fault(box, session, faults, "take")
        out = box.record("bank_out", REPLY_S, order_id=order, slot=slot)
        if out is None:
            break
        insert_from, mark = len(box.rig.sim.raw), box.rig.mark()
        box.rig.sim.send(
            op="insert", slot=slot, bank_id=out["bank_id"], charge_pct=out["charge_pct"]
        )
        box.rig.sim.wait_logged("inserted", insert_from, timeout=10, slot=slot)
        session.inserts.append((slot, out["bank_id"]))
        idle_fault(box, session, faults, "insert")
        session.finished = (
            box.record_since(mark, "bank_in", REPLY_S, slot=slot, bank_id=out["bank_id"])
            is not None
        )
        break
    session.sim_to = len(box.rig.sim.raw)
    return session


DRIVERS: dict[str, Callable[[CampaignBox, str, dict[str, Fault]], Session]] = {
    "vehicle": vehicle,
    "cabinet": cabinet,
    "parking": parking,
}
STEPS = {
    "vehicle": ("start_rental", "unlock", "drive", "end_rental"),
    "cabinet": ("rent", "take", "insert"),
    "parking": ("lower", "car", "raise"),
}
COMMAND_STEPS = {"start_rental", "unlock", "end_rental", "rent", "lower", "raise"}

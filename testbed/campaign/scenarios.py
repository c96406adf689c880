"""The campaign's scenarios, each at a full size (the issue's figures) and a short one (the
suite's). Every random choice comes from the seed, so a failing run replays."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge.identity import BoxKind
from testbed.campaign.box import REPLY_AFTER_FAULT_S, REPLY_S, CampaignBox
from testbed.campaign.consumer import Consumer, Replay
from testbed.campaign.findings import Findings
from testbed.campaign.sessions import (
    COMMAND_STEPS,
    DRIVERS,
    STEPS,
    Fault,
    FaultKind,
    FaultPoint,
    Session,
)

KINDS: tuple[BoxKind, ...] = ("vehicle", "cabinet", "parking")
HOUR_S = 3600.0
EPOCH_1970_S = 5.0  # the clock of a box that booted without an RTC and without a network


@dataclass(frozen=True)
class Size:
    boxes_per_kind: int
    sessions: int  # over all boxes
    faults: int
    outage_s: float = 0.0


FULL = {
    "powercut": Size(boxes_per_kind=2, sessions=510, faults=210),
    "sigkill": Size(boxes_per_kind=2, sessions=300, faults=210),
    "outage": Size(boxes_per_kind=1, sessions=3, faults=0, outage_s=600.0),
    "disk": Size(boxes_per_kind=1, sessions=0, faults=0),
    "clock": Size(boxes_per_kind=1, sessions=0, faults=0),
}
SHORT = {
    "powercut": Size(boxes_per_kind=1, sessions=6, faults=4),
    "sigkill": Size(boxes_per_kind=1, sessions=6, faults=4),
    "outage": Size(boxes_per_kind=1, sessions=3, faults=0, outage_s=12.0),
    "disk": Size(boxes_per_kind=1, sessions=0, faults=0),
    "clock": Size(boxes_per_kind=1, sessions=0, faults=0),
}
FAULT_MIX: dict[str, tuple[FaultKind, ...]] = {
    "powercut": ("cut", "cut", "cut", "cut", "unacked_cut"),
    "sigkill": ("kill", "kill", "unacked"),
}


class Run:
    """What every scenario shares: where to work, the seed, the findings, the wall time the
    run began (the consumer's bound on a synchronised clock)."""

    def __init__(self, root: Path, seed: int, findings: Findings) -> None:
        self.root = root
        self.seed = seed
        self.findings = findings
        self.started_wall = time.time()
        self._boxes = 0
        self._lock = threading.Lock()

    def rng(self, name: str) -> random.Random:
        return random.Random(f"{self.seed}:{name}")

    @contextmanager
    def box(self, scenario: str, kind: BoxKind, **options: Any) -> Iterator[CampaignBox]:
        with self._lock:
            self._boxes += 1
            number = self._boxes
        device = f"{scenario}-{kind}-{number}"
        box = CampaignBox(
            self.root / device,
            kind,
            device,
            self.findings,
            seed=self.rng(device).randrange(1 << 30),
            **options,
        )
        try:
            box.start_agent()
            box.telemetry()
            yield box
        finally:
            box.close()

    def judge(
        self,
        box: CampaignBox,
        sessions: list[Session],
        replays: list[Replay] = (),  # type: ignore[assignment]
    ) -> None:
        Consumer(box, self.findings, self.started_wall).judge(sessions, replays)
        self.findings.count("sessions", len(sessions))


def in_parallel(jobs: list[Callable[[], None]], findings: Findings) -> None:
    """Runs the jobs on threads; an exception in one is a finding, never a hang."""

    def guarded(job: Callable[[], None]) -> None:
        try:
            job()
        except Exception as exc:  # a harness error is reported, never hidden
            findings.check("serving", False, f"harness: {type(exc).__name__}: {exc!s:.500}")

    threads = [threading.Thread(target=guarded, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def fault_plans(
    rng: random.Random, kind: str, sessions: int, faults: int, mix: tuple[FaultKind, ...]
) -> list[dict[str, Fault]]:
    """Per session, the faults that hit it: `faults` of them spread over `sessions`."""
    plans: list[dict[str, Fault]] = [{} for _ in range(sessions)]
    for n in range(faults):
        plan = plans[rng.randrange(sessions)] if n >= sessions else plans[n]
        free = [step for step in STEPS[kind] if step not in plan]
        if not free:
            plan = next((p for p in plans if len(p) < len(STEPS[kind])), plan)
            free = [step for step in STEPS[kind] if step not in plan] or [STEPS[kind][0]]
        step = rng.choice(free)
        at: FaultPoint = rng.choice(("sent", "accepted")) if step in COMMAND_STEPS else "idle"
        plan[step] = Fault(rng.choice(mix), at, step, round(rng.uniform(0.0, 0.5), 3))
    rng.shuffle(plans)
    return plans


def replays_of(box: CampaignBox) -> list[Replay]:
    """An envelope the box already obeyed, sent again; one that expired before it was sent."""
    found: list[Replay] = []
    first = next(
        (e for e in box.sent if e["type"] in ("start_rental", "rent", "lower", "unlock", "raise")),
        None,
    )
    if first is not None:
        mark = box.rig.mark()
        box.rig.send(first)
        found.append(
            Replay(
                "an obeyed command sent again",
                first["id"],
                mark,
                frozenset({"replayed", "expired"}),
            )
        )
    stale = box.rig.backend.command(
        box.device_id,
        *STALE_COMMAND[box.kind],
        issued_at=datetime.now(UTC).replace(microsecond=0) - _seconds(120),
        expires_in_s=60,
    )
    mark = box.rig.mark()
    box.rig.send(stale)
    found.append(
        Replay("a command sent after it expired", stale["id"], mark, frozenset({"expired"}))
    )
    for replay in found:
        box.reply(replay.command_id, REPLY_S)
    return found


def _seconds(s: float) -> Any:
    from datetime import timedelta

    return timedelta(seconds=s)


STALE_COMMAND: dict[str, tuple[str, dict[str, Any]]] = {
    "vehicle": (
        "start_rental",
        {
            "order_id": "stale",
            "renter": "r",
            "tariff": {
                "per_minute_cents": 25,
                "fuel_price_cents_per_litre": 189,
                "tank_litres": 50,
                "currency": "EUR",
            },
        },
    ),
    "cabinet": ("rent", {"order_id": "stale", "count": 1}),
    "parking": ("lower", {"order_id": "stale"}),
}


# --- power cuts and SIGKILLs ------------------------------------------------------------


def faults(run: Run, scenario: str, size: Size) -> None:
    """Sessions on boxes of every kind at once, with `size.faults` faults at random points."""
    boxes = [kind for kind in KINDS for _ in range(size.boxes_per_kind)]
    rng = run.rng(scenario)
    per_box = [
        size.sessions // len(boxes) + (i < size.sessions % len(boxes)) for i in range(len(boxes))
    ]
    faults_per_box = [
        size.faults // len(boxes) + (i < size.faults % len(boxes)) for i in range(len(boxes))
    ]
    plans = [
        fault_plans(
            run.rng(f"{scenario}:{i}"), kind, per_box[i], faults_per_box[i], FAULT_MIX[scenario]
        )
        for i, kind in enumerate(boxes)
    ]
    del rng

    def one_box(index: int) -> None:
        kind = boxes[index]
        with run.box(scenario, kind) as box:
            sessions = []
            for n, plan in enumerate(plans[index]):
                sessions.append(DRIVERS[kind](box, f"{scenario}-{index}-{n}", plan))
            replays = replays_of(box)
            run.judge(box, sessions, replays)

    in_parallel([lambda i=i: one_box(i) for i in range(len(boxes))], run.findings)  # type: ignore[misc]


def powercut(run: Run, size: Size) -> None:
    faults(run, "powercut", size)


def sigkill(run: Run, size: Size) -> None:
    faults(run, "sigkill", size)


SCENARIOS: dict[str, Callable[[Run, Size], None]] = {
    "powercut": powercut,
    "sigkill": sigkill,
}


# --- the broker down for minutes in the middle of sessions -------------------------------


def outage(run: Run, size: Size) -> None:
    """One box of each kind; in the middle of its session (the car driving, the car on the
    parking space, the bank taken) its broker goes down for `size.outage_s`, with a power cut
    half-way. Records written meanwhile wait in the outbox and all arrive afterwards."""

    def down(box: CampaignBox) -> None:
        box.rig.broker.stop()
        run.findings.count("broker outage")
        time.sleep(size.outage_s / 2)
        box.power_cut()
        box.serving_again()
        time.sleep(size.outage_s / 2)
        box.rig.broker.start()

    middle = {"vehicle": "drive", "cabinet": "take", "parking": "car"}

    def one_box(kind: BoxKind) -> None:
        with run.box("outage", kind) as box:
            step = middle[kind]
            plan = {step: Fault("outage", "idle", step, 0.0, hook=down)}
            session = DRIVERS[kind](box, f"outage-{kind}", plan)
            run.judge(box, [session])

    in_parallel([lambda k=k: one_box(k) for k in KINDS], run.findings)  # type: ignore[misc]


# --- a full disk, a disk that cannot be written -------------------------------------------

START = {"vehicle": "start_rental", "cabinet": "rent", "parking": "lower"}
# Room left on the "full" disk: within the agent's reserve (64 KiB at least,
# docs/time-and-storage.md), so it must refuse new work while what runs still has room.
FULL_DISK_ROOM = 48 * 1024
# Starts sent to the failed disk: the first may be taken before the box has written (and so
# noticed) anything; the next must be refused.
START_ATTEMPTS = 3


def _start_args(kind: str, order: str) -> dict[str, Any]:
    return {**STALE_COMMAND[kind][1], "order_id": order}


def disk(run: Run, size: Size) -> None:
    """A session, then the disk fills up (and, apart, stops taking writes at all): the agent
    keeps running, refuses new sessions with `busy` saying why, keeps every record, and serves
    again by itself once the disk has room (or works) again."""

    def one_box(kind: BoxKind, how: str) -> None:
        with run.box(f"disk{how}", kind) as box:
            assert box.disk is not None
            sessions = [DRIVERS[kind](box, f"disk-{how}-{kind}-0", {})]
            if how == "full":
                box.disk.limit(box.disk.stats()["used"] + FULL_DISK_ROOM)
            else:
                box.disk.fail("erofs" if how == "readonly" else "eio")
            run.findings.count(f"disk {how}")
            refused = None
            unanswered: list[tuple[str, str]] = []  # (command id, order): a reply may come late
            for n in range(START_ATTEMPTS):
                order = f"disk-{how}-{kind}-x{n}"
                envelope = box.envelope(START[kind], **_start_args(kind, order))
                box.send(envelope)
                reply = box.reply(envelope["id"], 10)
                if reply is None:
                    unanswered.append((envelope["id"], order))
                elif reply["status"] == "rejected" and reply["code"] == "busy":
                    refused = reply
                    break
                elif reply["status"] == "ok":
                    sessions.append(_finish_started(box, kind, order, reply))
                if box.rig.agent is None or box.rig.agent.proc.poll() is not None:
                    break
            agent = box.rig.agent
            alive = agent is not None and agent.proc.poll() is None
            run.findings.check("disk", alive, f"{box.device_id}: the agent exited on a {how} disk")
            if how == "full":
                box.disk.limit(None)
            else:
                box.disk.fail(None)
            if box.rig.agent is None or box.rig.agent.proc.poll() is not None:
                box.serving_again()
            # What the box could not write is answered once it can (docs/time-and-storage.md):
            # a start it took as the disk failed (nothing moved before its record was written;
            # the backend carries that session on), or, on a disk that took no write at all, a
            # refusal (on the full disk the reserve holds it: it must come in time).
            for command_id, order in unanswered:
                late = box.reply(command_id, REPLY_AFTER_FAULT_S)
                if late is not None and late["status"] == "ok":
                    sessions.append(_finish_started(box, kind, order, late))
                elif late is not None and late["code"] == "busy" and how != "full":
                    refused = refused or late
                    run.findings.count(f"disk {how}: busy delivered once the disk worked")
            run.findings.check(
                "disk",
                refused is not None and bool(refused.get("detail")),
                f"{box.device_id}: no new session refused busy (with why) on a {how} disk",
            )
            recovered = DRIVERS[kind](box, f"disk-{how}-{kind}-after", {})
            run.findings.check(
                "disk", recovered.finished, f"{box.device_id}: no session after the {how} disk"
            )
            sessions.append(recovered)
            run.judge(box, sessions)

    in_parallel(
        [lambda k=k, h=h: one_box(k, h) for k in KINDS for h in ("full", "readonly")],  # type: ignore[misc]
        run.findings,
    )


# --- clock faults -------------------------------------------------------------------------


def clock(run: Run, size: Size) -> None:
    """Per kind, each fault a reboot with the clock as a box without an RTC finds it, and NTP
    (the agent's `clock.synced_file`) saying "synchronised" only once it has set the clock:
    booted at 1970, synced mid-session; booted an hour behind and unsynced, sent a command that
    expired before one it already verified was issued; a command obeyed, a boot two hours
    ahead (its RTC wrong), NTP correcting the clock, the command sent again; booted an hour
    behind and unsynced, NTP jumping it forward mid-session."""

    def one_box(kind: BoxKind) -> None:
        with run.box("clock", kind) as box:
            sessions: list[Session] = []
            replays: list[Replay] = []
            middle = {"vehicle": "drive", "cabinet": "take", "parking": "car"}[kind]

            def ntp(b: CampaignBox) -> None:
                b.wall.set_offset(0.0)
                b.set_synced(True)
                run.findings.count("clock set by NTP mid-session")

            box.reboot(EPOCH_1970_S - time.time(), synced=False)
            run.findings.count("boot at 1970")
            plan = {middle: Fault("hook", "idle", middle, 0.0, hook=ntp)}
            sessions.append(DRIVERS[kind](box, f"clock-1970-{kind}", plan))

            # an hour behind: a command that expired before a verified one was issued
            sessions.append(DRIVERS[kind](box, f"clock-right-{kind}", {}))
            box.reboot(-HOUR_S, synced=False)
            run.findings.count("boot an hour behind")
            now = datetime.now(UTC)
            stale = box.rig.backend.command(
                box.device_id,
                START[kind],
                _start_args(kind, f"clock-stale-{kind}"),
                issued_at=now - _seconds(HOUR_S),
                expires_in_s=HOUR_S / 2,
            )
            mark = box.rig.mark()
            box.send(stale)
            box.reply(stale["id"], REPLY_S)
            replays.append(
                Replay(
                    "expired 30 min before a verified command was issued (clock an hour behind)",
                    stale["id"],
                    mark,
                    frozenset({"expired"}),
                )
            )
            sessions.append(DRIVERS[kind](box, f"clock-behind-{kind}", {}))

            # an hour ahead, then corrected: a command it obeyed, sent again
            box.reboot(0.0, synced=True)
            obeyed = box.rig.backend.command(
                box.device_id,
                START[kind],
                _start_args(kind, f"clock-ahead-{kind}"),
                expires_in_s=1.5 * HOUR_S,
            )
            box.send(obeyed)
            reply = box.reply(obeyed["id"], REPLY_S)
            sessions.append(_finish_started(box, kind, f"clock-ahead-{kind}", reply))
            box.reboot(2 * HOUR_S, synced=False)
            run.findings.count("boot two hours ahead")
            time.sleep(2.0)  # its housekeeping purges the replay cache as it starts
            box.wall.set_offset(0.0)
            box.set_synced(True)
            run.findings.count("clock corrected by NTP")
            mark = box.rig.mark()
            box.send(obeyed)
            box.reply(obeyed["id"], REPLY_S)
            replays.append(
                Replay(
                    "obeyed, sent again after a boot two hours ahead",
                    obeyed["id"],
                    mark,
                    frozenset({"replayed"}),
                )
            )

            # an hour behind at a session's start, NTP jumps it forward mid-session
            box.reboot(-HOUR_S, synced=False)
            run.findings.count("boot an hour behind, NTP mid-session")
            plan = {middle: Fault("clock_jump", "idle", middle, 0.0, hook=ntp)}
            sessions.append(DRIVERS[kind](box, f"clock-jump-{kind}", plan))
            run.judge(box, sessions, replays)

    in_parallel([lambda k=k: one_box(k) for k in KINDS], run.findings)  # type: ignore[misc]


def _finish_started(
    box: CampaignBox, kind: BoxKind, order: str, reply: dict[str, Any] | None
) -> Session:
    """The rest of a session whose start command was sent already (the driver picks up from
    the box's state)."""
    if kind == "cabinet":
        session = Session("cabinet", order, sim_from=len(box.rig.sim.raw))
        slots = reply["result"]["ejected"] if reply and reply.get("result") else []
        if slots:
            mark = box.rig.mark()
            box.rig.sim.send(op="take", slot=slots[0])
            out = box.record("bank_out", REPLY_S, order_id=order, slot=slots[0])
            if out is not None:
                box.rig.sim.send(
                    op="insert", slot=slots[0], bank_id=out["bank_id"], charge_pct=out["charge_pct"]
                )
                session.inserts.append((slots[0], out["bank_id"]))
                session.finished = (
                    box.record_since(mark, "bank_in", REPLY_S, slot=slots[0]) is not None
                )
        session.sim_to = len(box.rig.sim.raw)
        return session
    return DRIVERS[kind](box, order, {})


SCENARIOS.update({"outage": outage, "disk": disk, "clock": clock})

"""The cabinet box end to end, for the tests: the agent and `edge-sim cabinet` as processes, the
slot boards on a pty, a private mosquitto and the signing backend (testbed/rig.py), plus the helpers
and invariants the cabinet end-to-end tests share."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

from testbed.rig import BoxRig, closed_after

DEVICE = "cab-e2e"
BOARDS = [1, 2, 3]
SLOTS_PER_BOARD = 16
MIN_CHARGE = 80
TAKE_TIMEOUT_S = 2.0
TELEMETRY_S = 0.5
# Charges stay as the seed made them; a latch takes 20 ms to move.
SIM_ARGS = ("--charge-step-s", "0", "--latch-ms", "20")
CABINET = {
    "boards": BOARDS,
    "slots_per_board": SLOTS_PER_BOARD,
    "min_charge_pct": MIN_CHARGE,
    "take_timeout_s": TAKE_TIMEOUT_S,
    "event_poll_s": 0.05,
    "inventory_poll_s": 3.0,
}


class CabinetRig(BoxRig):
    """A BoxRig for a cabinet that closes what it started even when starting fails."""

    def __init__(
        self,
        workdir: Path,
        *,
        sim_args: tuple[str, ...] = SIM_ARGS,
        cabinet: dict[str, Any] | None = None,
        start: bool = True,
        sections: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        try:
            super().__init__(
                workdir,
                "cabinet",
                device_id=DEVICE,
                sim_args=sim_args,
                box_settings={
                    "cabinet": {**CABINET, **(cabinet or {})},
                    "telemetry": {"interval_s": TELEMETRY_S},
                    **(sections or {}),
                },
            )
            if start:
                self.start_agent()
        except BaseException:
            self.close()
            raise

    # --- the cabinet ----------------------------------------------------------------

    def slots(self, match: Any = None, timeout: float = 10.0) -> dict[int, dict[str, Any]]:
        """The slots of the first telemetry snapshot from now on (that matches), by number."""
        snapshot = self.telemetry(lambda t: match is None or match(by_slot(t)), timeout)
        return by_slot(snapshot)

    def sim_slots(self) -> dict[int, dict[str, Any]]:
        return {slot["slot"]: slot for slot in self.sim.state()["slots"]}

    def take(self, slot: int) -> None:
        self.sim.send(op="take", slot=slot)
        self.sim.wait_event("taken", slot=slot)

    def insert(self, slot: int, bank_id: str | None, charge_pct: int | None) -> None:
        self.sim.send(op="insert", slot=slot, bank_id=bank_id, charge_pct=charge_pct)
        self.sim.wait_event("inserted", slot=slot)

    # --- what the cloud got ---------------------------------------------------------

    def records_of(self, record_type: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["type"] == record_type]


def cabinet_rig(workdir: Path, **options: Any) -> contextlib.AbstractContextManager[CabinetRig]:
    """A CabinetRig, closed afterwards; fails if a process it started is still running."""
    return closed_after(CabinetRig(workdir, **options))


def by_slot(telemetry: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {slot["slot"]: slot for slot in telemetry["slots"]}


def rentable(slots: dict[int, dict[str, Any]], min_charge: int = MIN_CHARGE) -> list[int]:
    """The slots a rent picks, best first: fullest at or above the minimum, ties lowest."""
    ready = [
        slot
        for slot in slots.values()
        if slot["state"] == "occupied"
        and slot["bank_id"] is not None
        and slot["charge_pct"] is not None
        and slot["charge_pct"] >= min_charge
    ]
    return [s["slot"] for s in sorted(ready, key=lambda s: (-s["charge_pct"], s["slot"]))]


def empty(slots: dict[int, dict[str, Any]]) -> list[int]:
    return sorted(n for n, slot in slots.items() if slot["state"] == "empty")


# --- invariants -----------------------------------------------------------------------


def assert_ejects_as_asked(rig: CabinetRig) -> None:
    """Every bank the boards pushed out was asked for, once: per slot, the simulator's eject
    lines and its latch counters never exceed the agent's eject requests; and every bank_out is
    a bank the boards ejected, taken once."""
    asked = Counter(line["slot"] for line in rig.agent_lines("cabinet.eject_sent"))
    pushed = Counter(line["slot"] for line in rig.sim_lines("eject"))
    counters = {int(k): v for k, v in rig.sim.state()["counters"]["ejects"].items()}
    for slot, count in pushed.items():
        assert count <= asked[slot], (slot, count, asked[slot])
    for slot, count in counters.items():
        assert count <= pushed[slot], (slot, count, pushed[slot])
    outs = rig.records_of("bank_out")
    assert len({(r["order_id"], r["slot"]) for r in outs}) == len(outs)
    taken = Counter((line["slot"], line["bank_id"]) for line in rig.sim_lines("taken"))
    for (slot, bank_id), count in Counter((r["slot"], r["bank_id"]) for r in outs).items():
        assert count <= taken[(slot, bank_id)], (slot, bank_id)


def assert_one_reply_each(rig: CabinetRig) -> None:
    """No command was answered two ways (a reply may arrive twice, the same each time)."""
    answers: dict[str, set[str]] = {}
    for reply in rig.on_topic("replies"):
        answers.setdefault(reply["command_id"], set()).add(json.dumps(reply, sort_keys=True))
    assert {cid: len(seen) for cid, seen in answers.items() if len(seen) > 1} == {}

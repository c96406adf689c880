"""`edge-sim cabinet`'s control ops, faults and stdout events (contract section 8)."""

from __future__ import annotations

from sim.op_table import Spec
from sim.slotboard_device.ops import LINE_EVENTS, line_faults, line_ops

SLOT_KEY = '"slot": 1..boards*slots'

OPS: dict[str, Spec] = {
    "take": Spec(
        ("slot",),
        f'{{"op": "take", {SLOT_KEY}}}',
        "a person takes the bank an EJECT pushed out: BANK_REMOVED (forced false), then the "
        "latch springs back to locked (LOCK_CHANGED). Only a bank the latch does not hold can be "
        "taken; a bank nobody takes stays in its slot until the box sends LOCK_SLOT.",
    ),
    "insert": Spec(
        ("slot", "bank_id", "charge_pct"),
        f'{{"op": "insert", {SLOT_KEY}, "bank_id": "1-8 printable ASCII"|null, '
        '"charge_pct": 0..100|null}',
        "a person pushes a bank into an empty slot; its locked latch catches it (no "
        "LOCK_CHANGED): BANK_INSERTED with the id and charge. bank_id null is a bank whose id "
        "cannot be read (id unknown, and ID_UNREADABLE set: SLOT_FAULT_CHANGED); charge_pct null "
        "is unknown. An id already in the cabinet is refused.",
    ),
    "remove": Spec(
        ("slot",),
        f'{{"op": "remove", {SLOT_KEY}}}',
        "a latched bank, never ejected, pulled out by force: BANK_REMOVED with forced true; the "
        "latch stays locked.",
    ),
    **line_ops(board_key=True),
}

FAULTS: dict[str, Spec] = {
    **line_faults(board_key=True),
    "lock_stuck": Spec(
        ("slot",),
        f'{{"op": "fault", "name": "lock_stuck", "on": bool, {SLOT_KEY}}}',
        "that slot's latch does not move. The next EJECT or LOCK_SLOT is answered as usual "
        "(the board has energised the latch) but the latch stays put; 500 ms later the board "
        "sets LOCK_STUCK (SLOT_FAULT_CHANGED, no LOCK_CHANGED) and from then on refuses EJECT "
        "and LOCK_SLOT of that slot with NAK HARDWARE_FAULT. Off: the latch moves again; "
        "LOCK_STUCK stays set until the next EJECT or LOCK_SLOT succeeds. A bank taken meanwhile "
        "leaves the latch open.",
    ),
    "overtemp": Spec(
        ("slot",),
        f'{{"op": "fault", "name": "overtemp", "on": bool, {SLOT_KEY}}}',
        "that slot is over its temperature limit: OVERTEMP set while on (SLOT_FAULT_CHANGED), "
        "its charger stops delivering current.",
    ),
    "charger_fault": Spec(
        ("slot",),
        f'{{"op": "fault", "name": "charger_fault", "on": bool, {SLOT_KEY}}}',
        "that slot's charger is broken: CHARGER_FAULT set while on, no current delivered.",
    ),
}

_SLOT_FIELDS = '"slot", "board", "board_slot"'

EVENTS: dict[str, str] = {
    "eject": f'{{"event": "eject", {_SLOT_FIELDS}, "seq", "bank_id", "charge_pct"}}: an EJECT '
    "carried out (once per request: a retransmission gives a retransmission line instead)",
    "unlocked": f'{{"event": "unlocked", {_SLOT_FIELDS}, "cause", "bank_id"?, "charge_pct"?}}: '
    "the latch opened (the bank is out, ready to take)",
    "locked": f'{{"event": "locked", {_SLOT_FIELDS}, "cause": "driven"|"spring", ...}}: the '
    "latch closed, driven by LOCK_SLOT or sprung back after a bank was taken",
    "lock_slot": f'{{"event": "lock_slot", {_SLOT_FIELDS}}}: a LOCK_SLOT started driving a latch',
    "stuck": f'{{"event": "stuck", {_SLOT_FIELDS}, "lock", "target"}}: a latch did not move',
    "taken": f'{{"event": "taken", {_SLOT_FIELDS}, "forced": false, "bank_id", "charge_pct"}}',
    "removed": f'{{"event": "removed", {_SLOT_FIELDS}, "forced": true, "bank_id", "charge_pct"}}',
    "inserted": f'{{"event": "inserted", {_SLOT_FIELDS}, "lock", "bank_id", "charge_pct"}}',
    "slot_faults": f'{{"event": "slot_faults", {_SLOT_FIELDS}, "faults": [names]}}: the fault '
    "bits the board reports changed",
    "charging": '{"event": "charging", "board", "slot": n|"all", "on"}: SET_CHARGING carried out',
    "indicator": '{"event": "indicator", "board", "slot": n|"all", "colour", "pattern"}: '
    "SET_INDICATOR carried out",
    **LINE_EVENTS,
}

NOTES = (
    "Slots are numbered across the cabinet: board b (at address b) slot s is slot "
    "(b-1)*slots+s, in control ops and in event lines, which also carry board and board_slot. "
    "Banks charge +1 % every --charge-step-s while their charger is on, they sit home and are "
    "below 100 %. The state's counters.ejects counts, per slot, the banks an EJECT pushed out "
    "(the latch opened; a retransmission or a stuck latch pushes nothing)."
)

"""`edge-sim parking`'s control ops, faults and stdout events (contract section 8)."""

from __future__ import annotations

from sim.op_table import Spec
from sim.slotboard_device.ops import LINE_EVENTS, line_faults, line_ops

OPS: dict[str, Spec] = {
    "car": Spec(
        ("present",),
        '{"op": "car", "present": bool}',
        "a car arrives over the lock or leaves (OCCUPANCY_CHANGED). While a car is present RAISE "
        "is refused with NAK OCCUPIED; a car arriving over a rising arm obstructs it: the arm "
        "stalls and goes back down, MOTOR_STALL set.",
    ),
    **line_ops(board_key=False),
}

FAULTS: dict[str, Spec] = {
    **line_faults(board_key=False),
    "lock_stuck": Spec(
        ("slot",),
        '{"op": "fault", "name": "lock_stuck", "on": bool, "slot"?: 1}',
        "the arm is jammed: the next RAISE or LOWER is answered moving, the arm travels a little "
        "way, stalls (MOTOR_STALL set, GROUND_LOCK_FAULT_CHANGED) and is driven back to where it "
        "came from (POSITION_CHANGED to that position), never reaching the commanded one; from "
        "then on RAISE and LOWER are refused with NAK HARDWARE_FAULT. Off: the arm moves again; "
        "MOTOR_STALL stays set until the next RAISE or LOWER succeeds. slot, as a cabinet takes "
        "it, can only be 1 here.",
    ),
}

EVENTS: dict[str, str] = {
    "raise": '{"event": "raise", "seq"}: a RAISE started the motor (once per request)',
    "lower": '{"event": "lower", "seq"}: a LOWER started the motor',
    "moving": '{"event": "moving", "target", "level", "returning"}: the arm set off (or turned '
    "round) towards target from level (0 lowered .. 1 raised); returning after a stall",
    "position": '{"event": "position", "position": "moving"|"raised"|"lowered"}: the position '
    "the board reports changed (POSITION_CHANGED)",
    "stalled": '{"event": "stalled", "target", "level"}: the arm was obstructed on its way',
    "lock_faults": '{"event": "lock_faults", "faults": [names]}: the fault bits changed',
    "car": '{"event": "car", "present"}: the occupancy sensor saw a car arrive or leave',
    **LINE_EVENTS,
}

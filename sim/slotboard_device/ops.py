"""The control ops, faults and stdout events of a board simulator as tables: `--help` is made
from them, and the simulator checks every control line against them."""

from __future__ import annotations

from sim.op_table import Spec

DEFAULT_BER = 1e-4
DEFAULT_DROP = 1e-3
DEFAULT_LATE_MS = 150.0
MAX_LATE_MS = 10_000.0
RESET_REASONS = ("power_on", "watchdog", "brown_out", "software")


def _which(board_key: bool, all_boards: str) -> tuple[tuple[str, ...], str, str]:
    """The `board` key of a line fault, on a line of several boards."""
    if not board_key:
        return (), "", "the board"
    return ("board",), ', "board"?: address', f"board `board` (default {all_boards})"


def line_faults(*, board_key: bool) -> dict[str, Spec]:
    """The faults every board simulator has; `board_key`: the line has several boards."""
    keys, usage, which = _which(board_key, "every board")
    return {
        "noise": Spec(
            ("ber", "drop"),
            '{"op": "fault", "name": "noise", "on": bool, "ber"?: 0..1, "drop"?: 0..1}',
            "noise on the line, both directions: each bit flipped with probability ber, each "
            f"byte lost with probability drop (on alone: ber {DEFAULT_BER:g}, drop "
            f"{DEFAULT_DROP:g}; off: both 0). The boards count the frames that fail their CRC "
            "(GET_INFO) and answer nothing broken.",
        ),
        "silent": Spec(
            keys,
            f'{{"op": "fault", "name": "silent", "on": bool{usage}}}',
            f"{which} is unplugged from the line: it hears nothing and answers nothing (requests "
            "sent meanwhile are lost, not carried out later); its hardware goes on, events "
            "queue up as usual and are fetched once it is back.",
        ),
        "duplicate": Spec(
            keys,
            f'{{"op": "fault", "name": "duplicate", "on": bool{usage}}}',
            f"{which} sends every response twice, back to back.",
        ),
        "late": Spec(
            (*keys, "delay_ms"),
            f'{{"op": "fault", "name": "late", "on": bool, "delay_ms"?: ms{usage}}}',
            f"{which} still carries out every request, but sends its response delay_ms (default "
            f"{DEFAULT_LATE_MS:g}, at most {MAX_LATE_MS:g}) late: after the box's 100 ms "
            "timeout, when the box has sent the request again or moved on.",
        ),
    }


def line_ops(*, board_key: bool) -> dict[str, Spec]:
    """The ops every board simulator has."""
    keys, usage, which = _which(board_key, "every board")
    return {
        "reset": Spec(
            (*keys, "reason"),
            f'{{"op": "reset", "reason"?: {"|".join(RESET_REASONS)}{usage}}}',
            f"{which} restarts (default reason power_on): its event queue starts afresh with "
            "BOARD_RESET at event seq 0, its remembered request and CRC-error count are gone; "
            "the hardware (banks, latches, the arm) stays as it is.",
        ),
        "fault": Spec(
            ("name", "on"),
            '{"op": "fault", "name": NAME, "on": bool, ...}',
            "switch a fault on or off (see the faults below).",
        ),
        "state": Spec(
            (),
            '{"op": "state"}',
            'print the whole state as one {"event": "state", ...} line.',
        ),
    }


LINE_EVENTS: dict[str, str] = {
    "nak": '{"event": "nak", "address", "seq", "command", "code", "reason"}: a request refused',
    "retransmission": '{"event": "retransmission", "address", "seq", "command"}: an actuating '
    "request received again with the same seq; the remembered response was sent again and "
    "nothing was done",
    "event_dropped": '{"event": "event_dropped", "address", "type"}: the event queue was full '
    "(the box sees the overflow flag)",
    "reset": '{"event": "reset", "address", "reason"}: a board restarted',
    "fault": '{"event": "fault", "name", "on", ...}: a fault switched',
    "error": '{"event": "error", "error", "detail"}: a control line refused; the simulator goes on',
}

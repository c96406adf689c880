"""The vehicle simulator's control ops and faults: one table each, read by `--help` and by the
simulator that checks every control line against it (contract section 8)."""

from __future__ import annotations

from sim import op_table
from sim.op_table import Spec

GAUGES = ("fuel_pct", "odometer_km", "speed_kmh")
DEFAULT_DRIVE_SECONDS = 3.0
MAX_DRIVE_SECONDS = 3600.0
DEFAULT_NOISE_HZ = 20.0
MAX_NOISE_HZ = 1000.0

OPS: dict[str, Spec] = {
    "set": Spec(
        GAUGES,
        '{"op": "set", "fuel_pct"?, "odometer_km"?, "speed_kmh"?}',
        "set gauges at once: a number, or null for the car's 'not available' value. Any value "
        "the DBC can carry is taken, an odometer below the current one too: that is how a test "
        "injects an implausible reading. Refused while a drive is under way.",
    ),
    "ignition": Spec(
        ("on",),
        '{"op": "ignition", "on": bool}',
        "ignition on or off; off also stops the engine. Refused off while driving.",
    ),
    "engine": Spec(
        ("running",),
        '{"op": "engine", "running": bool}',
        "start or stop the engine as the start/stop button does: starting turns the ignition "
        "on, stopping turns it off (send ignition on after it for ignition without engine). "
        "Without start enable the engine does not start: an "
        '{"event": "engine", "running": false, "refused": "start_disabled"} line says so '
        "(a car whose profile has no start_enable command starts without: the box has nothing "
        "to withhold). On a car whose engine_running is a threshold on the engine speed, "
        "running is an idle-and-up rpm above it and stopped is 0 rpm. "
        "Refused off while driving.",
    ),
    "door": Spec(
        ("open", "door"),
        '{"op": "door", "open": bool, "door"?: SIGNAL}',
        "open or close a door; the doors are the switches the profile's doors_closed reads, "
        "across all its messages, each named by its DBC signal (the reference car: DoorFL, "
        "DoorFR, DoorRL, DoorRR, Tailgate); default the first the profile lists (the driver's).",
    ),
    "drive": Spec(
        ("km", "fuel_pct_used", "seconds"),
        '{"op": "drive", "km": number > 0, "fuel_pct_used": number >= 0, "seconds"?: number > 0}',
        f"drive for `seconds` (default {DEFAULT_DRIVE_SECONDS:g}, at most "
        f"{MAX_DRIVE_SECONDS:g}): the odometer goes up to exactly +km and the fuel down by "
        "fuel_pct_used, the speed is above 0 (the average, kept within 5..180 km/h) and 0 again "
        'at the end, when a {"event": "drive", "done": true} line comes. Needs the engine '
        "running; one drive at a time.",
    ),
    "dtcs": Spec(
        ("codes",),
        '{"op": "dtcs", "codes": ["P0301", ...]}',
        "the stored trouble codes that OBD-II service 0x03 reports (at most 255).",
    ),
    "fault": Spec(
        ("name", "on", "rate_hz"),
        '{"op": "fault", "name": NAME, "on": bool, ...}',
        "switch a fault on or off (see the faults below).",
    ),
    "state": Spec(
        (),
        '{"op": "state"}',
        'print the whole state as one {"event": "state", ...} line.',
    ),
}

FAULTS: dict[str, Spec] = {
    "lock_stuck": Spec(
        (),
        '{"op": "fault", "name": "lock_stuck", "on": bool}',
        "lock and unlock commands are received (a command line comes) but the lock does not "
        'move: the status keeps the old state and a {"event": "stuck"} line comes instead.',
    ),
    "start_stuck": Spec(
        (),
        '{"op": "fault", "name": "start_stuck", "on": bool}',
        "the same for start enable and start disable.",
    ),
    "silent": Spec(
        (),
        '{"op": "fault", "name": "silent", "on": bool}',
        "the ECUs are dead (an unplugged harness): no broadcasts, no OBD-II answers, and "
        "commands sent meanwhile are lost.",
    ),
    "bus_noise": Spec(
        ("rate_hz",),
        '{"op": "fault", "name": "bus_noise", "on": bool, "rate_hz"?: number}',
        f"junk frames at about rate_hz a second (default {DEFAULT_NOISE_HZ:g}, at most "
        f"{MAX_NOISE_HZ:g}): frames on ids the car does not use, and status frames with a bad "
        "checksum or the wrong length; the genuine broadcasts go on.",
    ),
}

EVENTS: dict[str, str] = {
    "command": '{"event": "command", "name", "counter"}: a lock/start command frame was received',
    "lock": '{"event": "lock", "state", "changed"}: the lock moved (or re-confirmed), after the '
    "actuator delay",
    "start_enable": '{"event": "start_enable", "enabled", "changed", "engine_running"}: the same '
    "for start enable; start withdrawn with the engine running breaks the contract's safety rule "
    "and is counted in the state's counters.start_disabled_while_running (the engine runs on)",
    "stuck": '{"event": "stuck", "actuator", "command", "position"}: a command met a stuck fault',
    "bad_frame": '{"event": "bad_frame", "id", "data", "reason", "detail"}: a command frame '
    'dropped: "codec" (bad checksum, wrong length, no command) or "repeated_counter" (the '
    "DBC's BCM ignores a frame repeating the last counter of its message)",
    "drive": '{"event": "drive", "done": false|true, ...}: a drive began or ended',
    "error": '{"event": "error", "error", "detail"}: a control line refused; the simulator goes on',
}


def help_text() -> str:
    """The ops and faults for `--help`."""
    return op_table.help_text(OPS, FAULTS, EVENTS)

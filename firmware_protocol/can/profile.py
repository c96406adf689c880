"""Signal profile: which DBC message and signal carries each logical input and command.

A profile is a TOML file; another car plugs in with its own DBC and profile, no code:

    name = "reference"
    dbc = "vehicle.dbc"                  # relative to the profile file
    not_available_choices = ["SNA"]      # value-table names meaning "not available" (default)

    [signals.fuel_pct]                   # a number: the signal's physical value
    source = "can"                       # "can" (default) or "obd" (fuel, odometer, speed only)
    message = "IC_FuelLevel"
    signal = "FuelLevel"

    [signals.odometer_km]                # from OBD-II service 0x01 instead, polled every poll_s
    source = "obd"
    poll_s = 1.0

    [signals.lock_state]                 # a state: each logical value lists its DBC values,
    message = "BCM_LockStatus"           # value-table names or raw integers
    signal = "LockState"
    values = { locked = ["LOCKED"], unlocked = ["UNLOCKED"] }

    [signals.doors_closed]               # true iff every listed signal is true
    message = "BCM_LockStatus"
    signals = ["DoorFL", "DoorFR"]
    values = { true = ["CLOSED"], false = ["OPEN"] }

    [commands.lock]                      # the signals a command sets, by value-table name or raw
    message = "BOX_LockCommand"
    set = { LockRequest = "LOCK" }

    [protected.BOX_LockCommand]          # a message carrying a rolling counter and a checksum
    counter = "LockCmd_Counter"
    checksum = "LockCmd_Checksum"
    algorithm = "sum8_id_inverted"       # see checksum.py

Every logical input and command must be mapped; unknown keys are errors. This module checks
the file's shape; `VehicleCodec` checks it against the DBC. Both raise ProfileError naming the key.
"""

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TypeGuard

from firmware_protocol.obd import FUEL_LEVEL, ODOMETER, VEHICLE_SPEED

from .checksum import ALGORITHMS
from .errors import ProfileError

DbcValue = str | int
"""A value-table name, or a raw integer."""


@dataclass(frozen=True)
class InputKind:
    """What a logical input is: `states` maps each key of its `values` table to the logical
    value it stands for (none: a number); `many_signals` reads a list of signals (all must be
    true); `obd_pid` is set when it may come from OBD-II service 0x01 instead."""

    states: Mapping[str, bool | str]
    many_signals: bool = False
    obd_pid: int | None = None


_BOOL: Mapping[str, bool | str] = MappingProxyType({"true": True, "false": False})
_NUMBER: Mapping[str, bool | str] = MappingProxyType({})

INPUTS: Mapping[str, InputKind] = MappingProxyType(
    {
        "fuel_pct": InputKind(_NUMBER, obd_pid=FUEL_LEVEL.number),
        "odometer_km": InputKind(_NUMBER, obd_pid=ODOMETER.number),
        "speed_kmh": InputKind(_NUMBER, obd_pid=VEHICLE_SPEED.number),
        "ignition": InputKind(_BOOL),
        "engine_running": InputKind(_BOOL),
        "doors_closed": InputKind(_BOOL, many_signals=True),
        "lock_state": InputKind(MappingProxyType({"locked": "locked", "unlocked": "unlocked"})),
        "start_enabled": InputKind(_BOOL),
    }
)
COMMANDS = ("lock", "unlock", "start_enable", "start_disable")
BUILTIN_DIR = Path(__file__).parent
DEFAULT_POLL_S = 1.0


@dataclass(frozen=True)
class CanInput:
    name: str
    message: str
    signals: tuple[str, ...]
    values: Mapping[str, tuple[DbcValue, ...]]


@dataclass(frozen=True)
class ObdInput:
    name: str
    pid: int
    poll_s: float


@dataclass(frozen=True)
class CommandMap:
    name: str
    message: str
    set: Mapping[str, DbcValue]


@dataclass(frozen=True)
class Protection:
    message: str
    counter: str
    checksum: str
    algorithm: str


@dataclass(frozen=True)
class Profile:
    name: str
    path: Path
    dbc: Path
    not_available_choices: tuple[str, ...]
    inputs: Mapping[str, CanInput | ObdInput]
    commands: Mapping[str, CommandMap]
    protected: Mapping[str, Protection]


class _Table:
    """One TOML table being read. Each key read is ticked off; `close` refuses the rest."""

    def __init__(self, raw: object, key: str) -> None:
        if not isinstance(raw, dict):
            raise ProfileError(key or "profile", "must be a table")
        self._raw: dict[str, object] = raw
        self._key = key
        self._unread = set(raw)

    def key(self, name: str) -> str:
        return f"{self._key}.{name}" if self._key else name

    def names(self) -> list[str]:
        return list(self._raw)

    def has(self, name: str) -> bool:
        return name in self._raw

    def get(self, name: str) -> object:
        if name not in self._raw:
            raise ProfileError(self.key(name), "missing")
        self._unread.discard(name)
        return self._raw[name]

    def text(self, name: str, default: str | None = None) -> str:
        if default is not None and not self.has(name):
            return default
        value = self.get(name)
        if not isinstance(value, str) or not value:
            raise ProfileError(self.key(name), "must be a non-empty string")
        return value

    def texts(self, name: str, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        if default is not None and not self.has(name):
            return default
        value = self.get(name)
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ProfileError(self.key(name), "must be a list of non-empty strings")
        return tuple(value)

    def dbc_values(self, name: str) -> tuple[DbcValue, ...]:
        value = self.get(name)
        if not isinstance(value, list) or not value or not all(_is_dbc_value(v) for v in value):
            raise ProfileError(self.key(name), "must be a non-empty list of names or integers")
        return tuple(value)

    def dbc_value(self, name: str) -> DbcValue:
        value = self.get(name)
        if not _is_dbc_value(value):
            raise ProfileError(self.key(name), "must be a value-table name or an integer")
        return value

    def seconds(self, name: str, default: float) -> float:
        if not self.has(name):
            return default
        value = self.get(name)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 < value < math.inf
        ):
            raise ProfileError(self.key(name), "must be a positive number of seconds")
        return float(value)

    def table(self, name: str) -> "_Table":
        return _Table(self.get(name), self.key(name))

    def close(self) -> None:
        if self._unread:
            raise ProfileError(self.key(sorted(self._unread)[0]), "unknown key")


def _is_dbc_value(value: object) -> TypeGuard[DbcValue]:
    return (isinstance(value, str) and bool(value)) or (
        isinstance(value, int) and not isinstance(value, bool)
    )


def load_profile(name_or_path: str | Path) -> Profile:
    """A builtin profile by name ("reference"), or the profile file at a path."""
    path = Path(name_or_path)
    if isinstance(name_or_path, str) and path.suffix != ".toml" and len(path.parts) == 1:
        path = BUILTIN_DIR / f"{name_or_path}.toml"
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ProfileError("profile", f"cannot read {path}: {error.strerror}") from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ProfileError("profile", f"{path} is not TOML: {error}") from error
    return parse_profile(document, path)


def parse_profile(document: Mapping[str, object], path: Path) -> Profile:
    """The profile in a parsed TOML `document` read from `path` (its DBC is relative to it)."""
    top = _Table(dict(document), "")
    name = top.text("name", default=path.stem)
    dbc = path.parent / top.text("dbc")
    if not dbc.is_file():
        raise ProfileError("dbc", f"no such file: {dbc}")
    not_available = top.texts("not_available_choices", default=("SNA",))
    inputs = _inputs(top.table("signals"))
    commands = _commands(top.table("commands"))
    protected = _protected(top.table("protected")) if top.has("protected") else {}
    top.close()
    return Profile(
        name=name,
        path=path,
        dbc=dbc,
        not_available_choices=not_available,
        inputs=MappingProxyType(inputs),
        commands=MappingProxyType(commands),
        protected=MappingProxyType(protected),
    )


def _inputs(signals: _Table) -> dict[str, CanInput | ObdInput]:
    for name in signals.names():
        if name not in INPUTS:
            raise ProfileError(signals.key(name), f"unknown input; inputs are {', '.join(INPUTS)}")
    inputs = {name: _input(name, kind, signals.table(name)) for name, kind in INPUTS.items()}
    signals.close()
    return inputs


def _input(name: str, kind: InputKind, table: _Table) -> CanInput | ObdInput:
    source = table.text("source", default="can")
    if source == "obd":
        if kind.obd_pid is None:
            raise ProfileError(table.key("source"), f"{name} cannot come from OBD-II")
        result: CanInput | ObdInput = ObdInput(
            name, kind.obd_pid, table.seconds("poll_s", DEFAULT_POLL_S)
        )
    elif source == "can":
        message = table.text("message")
        signals = table.texts("signals") if kind.many_signals else (table.text("signal"),)
        if not signals:
            raise ProfileError(table.key("signals"), "must name at least one signal")
        result = CanInput(name, message, signals, MappingProxyType(_values(kind, table)))
    else:
        raise ProfileError(table.key("source"), 'must be "can" or "obd"')
    table.close()
    return result


def _values(kind: InputKind, table: _Table) -> dict[str, tuple[DbcValue, ...]]:
    if not kind.states:
        return {}
    values = table.table("values")
    mapping = {state: values.dbc_values(state) for state in kind.states}
    values.close()
    return mapping


def _commands(commands: _Table) -> dict[str, CommandMap]:
    for name in commands.names():
        if name not in COMMANDS:
            raise ProfileError(commands.key(name), f"unknown command; commands are {COMMANDS}")
    result = {}
    for name in COMMANDS:
        table = commands.table(name)
        message = table.text("message")
        settings = table.table("set")
        if not settings.names():
            raise ProfileError(table.key("set"), "must set at least one signal")
        result[name] = CommandMap(
            name, message, MappingProxyType({s: settings.dbc_value(s) for s in settings.names()})
        )
        table.close()
    commands.close()
    return result


def _protected(protected: _Table) -> dict[str, Protection]:
    result = {}
    for message in protected.names():
        table = protected.table(message)
        algorithm = table.text("algorithm")
        if algorithm not in ALGORITHMS:
            raise ProfileError(table.key("algorithm"), f"must be one of {', '.join(ALGORITHMS)}")
        counter, checksum = table.text("counter"), table.text("checksum")
        result[message] = Protection(message, counter, checksum, algorithm)
        table.close()
    protected.close()
    return result

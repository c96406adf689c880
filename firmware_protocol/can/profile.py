"""Signal profile: which DBC message and signal carries each logical input and command.

A profile is a TOML file; another car plugs in with its own DBC and a profile, no code. The
format, with examples for real cars, is documented in one place: PROFILES.md beside this file.

This module checks the file's shape; `VehicleCodec` checks it against the DBC. Both raise
ProfileError naming the key (ProfileProblems when there are several).
"""

import functools
import importlib.resources
import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TypeGuard, TypeVar

from firmware_protocol.obd import FUEL_LEVEL, ODOMETER, VEHICLE_SPEED

from .checksum import ALGORITHMS, NEEDS_DATA_IDS
from .errors import ProfileError, ProfileProblems

DbcValue = str | int
"""A value-table name, or a raw integer."""

T = TypeVar("T")

KM_PER_MILE = 1.609344


@dataclass(frozen=True)
class InputKind:
    """What a logical input is: `states` maps each key of its `values` table to the logical
    value it stands for (none: a number); `many_signals` reads a list of signals (all must be
    true), from one message or several; `obd_pid` is set when it may come from OBD-II service
    0x01 instead; `units` are the units a number may come in, with what multiplies a value in
    that unit into the logical one (a unit with factor None takes it from the profile's
    `per_unit_key`)."""

    states: Mapping[str, bool | str]
    many_signals: bool = False
    obd_pid: int | None = None
    units: Mapping[str, float | None] = field(default_factory=dict)
    per_unit_key: Mapping[str, str] = field(default_factory=dict)


_BOOL: Mapping[str, bool | str] = MappingProxyType({"true": True, "false": False})
_NUMBER: Mapping[str, bool | str] = MappingProxyType({})

INPUTS: Mapping[str, InputKind] = MappingProxyType(
    {
        "fuel_pct": InputKind(
            _NUMBER,
            obd_pid=FUEL_LEVEL.number,
            units=MappingProxyType({"%": 1.0, "l": None, "bars": None}),
            per_unit_key=MappingProxyType({"l": "tank_litres", "bars": "full_bars"}),
        ),
        "odometer_km": InputKind(
            _NUMBER,
            obd_pid=ODOMETER.number,
            units=MappingProxyType({"km": 1.0, "mi": KM_PER_MILE}),
        ),
        "speed_kmh": InputKind(
            _NUMBER,
            obd_pid=VEHICLE_SPEED.number,
            units=MappingProxyType({"km/h": 1.0, "mph": KM_PER_MILE}),
        ),
        "ignition": InputKind(_BOOL),
        "engine_running": InputKind(_BOOL),
        "doors_closed": InputKind(_BOOL, many_signals=True),
        "lock_state": InputKind(MappingProxyType({"locked": "locked", "unlocked": "unlocked"})),
        "start_enabled": InputKind(_BOOL),
    }
)
COMMANDS = ("lock", "unlock", "start_enable", "start_disable")
BUILTIN_DIR = Path(__file__).parent
PROFILES_DIR = BUILTIN_DIR / "profiles"
DEFAULT_POLL_S = 1.0
DEFAULT_CYCLE_S = 1.0
"""Cycle time of a message read when neither the DBC nor the profile gives one."""

WHAT_IS_MISSING = MappingProxyType(
    {
        "fuel_pct": "no fuel level: rentals end without a fuel charge reading",
        "odometer_km": "no odometer: rental records carry no distance",
        "speed_kmh": "no speed",
        "ignition": "no ignition state",
        "engine_running": "no engine state: end_rental is refused (engine state unknown)",
        "doors_closed": "no door state: end_rental is refused (door state unknown)",
        "lock_state": "no lock state: the lock is never reported as confirmed",
        "start_enabled": "no start-enable status: never confirmed (as commanded, if commanded)",
        "lock": "no lock command: lock is refused",
        "unlock": "no unlock command: unlock is refused",
        "start_enable": "no start-enable command: one-key start is not switched",
        "start_disable": "no start-disable command: one-key start is not withdrawn",
    }
)


@dataclass(frozen=True)
class CanSource:
    """One message's part of an input: its signals and what their values mean."""

    message: str
    signals: tuple[str, ...]
    values: Mapping[str, tuple[DbcValue, ...]]


@dataclass(frozen=True)
class Threshold:
    """A state that is true above a number: true once the value exceeds `above`, false again
    once it falls to `above - hysteresis` or below."""

    above: float
    hysteresis: float


@dataclass(frozen=True)
class CanInput:
    name: str
    sources: tuple[CanSource, ...]
    threshold: Threshold | None = None
    unit: str | None = None
    factor: float = 1.0
    """Multiplies the signal's physical value (in `unit`) into the logical one."""

    @property
    def message(self) -> str:
        return self.sources[0].message

    @property
    def signals(self) -> tuple[str, ...]:
        return self.sources[0].signals

    @property
    def values(self) -> Mapping[str, tuple[DbcValue, ...]]:
        return self.sources[0].values


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
    """A message with a checksum and (`counter` not empty) a rolling counter."""

    message: str
    counter: str
    checksum: str
    algorithm: str
    data_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class DbcPackage:
    """A DBC shipped inside an installed Python package (e.g. opendbc)."""

    package: str
    path: str


@dataclass(frozen=True)
class Profile:
    name: str
    path: Path
    dbc: Path
    not_available_choices: tuple[str, ...]
    inputs: Mapping[str, CanInput | ObdInput]
    commands: Mapping[str, CommandMap]
    protected: Mapping[str, Protection]
    absent: tuple[str, ...] = ()
    cycle_s: Mapping[str, float] = field(default_factory=dict)
    default_cycle_s: float = DEFAULT_CYCLE_S

    @property
    def listen_only(self) -> bool:
        """True when the box never needs to write a frame: no command, no OBD-II polling."""
        return not self.commands and not any(isinstance(i, ObdInput) for i in self.inputs.values())

    def lacks(self) -> list[str]:
        """What the car lacks, one line each, naming the key."""
        return [f"absent.{name}: {WHAT_IS_MISSING[name]}" for name in self.absent]


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


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def builtin_profiles() -> list[str]:
    """Names of the profiles shipped with the package: the reference and the example cars."""
    return ["reference", *sorted(path.stem for path in PROFILES_DIR.glob("*.toml"))]


def load_profile(name_or_path: str | Path) -> Profile:
    """A builtin profile by name ("reference", an example car), or the profile file at a path."""
    path = Path(name_or_path)
    if isinstance(name_or_path, str) and path.suffix != ".toml" and len(path.parts) == 1:
        path = BUILTIN_DIR / f"{name_or_path}.toml"
        if not path.is_file():
            path = PROFILES_DIR / f"{name_or_path}.toml"
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ProfileError("profile", f"cannot read {path}: {error.strerror}") from error
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ProfileError("profile", f"{path} is not TOML: {error}") from error
    return parse_profile(document, path)


class Problems:
    """Collects ProfileErrors, so that one pass names every problem."""

    def __init__(self) -> None:
        self.errors: list[ProfileError] = []

    def check(self, read: Callable[[], T]) -> T | None:
        try:
            return read()
        except ProfileProblems as problems:
            self.errors.extend(problems.problems)
        except ProfileError as error:
            self.errors.append(error)
        return None

    def add(self, key: str, problem: str) -> None:
        self.errors.append(ProfileError(key, problem))

    def raise_any(self) -> None:
        self.errors = list({str(error): error for error in self.errors}.values())
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise ProfileProblems(self.errors)


def parse_profile(document: Mapping[str, object], path: Path) -> Profile:
    """The profile in a parsed TOML `document` read from `path` (its DBC is relative to it)."""
    problems = Problems()
    top = _Table(dict(document), "")
    name = top.text("name", default=path.stem)
    dbc = problems.check(lambda: _dbc_path(top, path))
    not_available = top.texts("not_available_choices", default=("SNA",))
    absent = problems.check(lambda: _absent(top)) or ()
    inputs = _inputs(top.table("signals") if top.has("signals") else None, absent, problems)
    commands = _commands(top.table("commands") if top.has("commands") else None, absent, problems)
    protected = problems.check(lambda: _protected(top)) or {}
    cycles = problems.check(lambda: _cycles(top)) or {}
    default_cycle = top.seconds("default_cycle_s", DEFAULT_CYCLE_S)
    problems.check(top.close)
    problems.raise_any()
    assert dbc is not None
    return Profile(
        name=name,
        path=path,
        dbc=dbc,
        not_available_choices=not_available,
        inputs=MappingProxyType(inputs),
        commands=MappingProxyType(commands),
        protected=MappingProxyType(protected),
        absent=absent,
        cycle_s=MappingProxyType(cycles),
        default_cycle_s=default_cycle,
    )


def _dbc_path(top: _Table, path: Path) -> Path:
    if top.has("dbc") and isinstance(top.get("dbc"), dict):
        where = top.table("dbc")
        package = DbcPackage(where.text("package"), where.text("path"))
        where.close()
        return package_dbc(package)
    dbc = path.parent / top.text("dbc")
    if not dbc.is_file():
        raise ProfileError("dbc", f"no such file: {dbc}")
    return dbc


def package_dbc(where: DbcPackage) -> Path:
    """The path of a DBC file inside an installed package."""
    try:
        root = importlib.resources.files(where.package)
    except ModuleNotFoundError:
        problem = f"the package {where.package} is not installed (pip install {where.package})"
        raise ProfileError("dbc.package", problem) from None
    dbc = Path(str(root.joinpath(where.path)))
    if not dbc.is_file():
        raise ProfileError("dbc.path", f"{where.package} has no file {where.path}")
    return dbc


def _absent(top: _Table) -> tuple[str, ...]:
    absent = top.texts("absent", default=())
    for name in absent:
        if name not in INPUTS and name not in COMMANDS:
            known = ", ".join([*INPUTS, *COMMANDS])
            raise ProfileError("absent", f"{name!r} is no input or command; they are {known}")
    if len(set(absent)) != len(absent):
        raise ProfileError("absent", "lists a name twice")
    return absent


def _inputs(
    signals: _Table | None, absent: tuple[str, ...], problems: Problems
) -> dict[str, CanInput | ObdInput]:
    names = signals.names() if signals is not None else []
    for name in names:
        if name not in INPUTS:
            problems.add(f"signals.{name}", f"unknown input; inputs are {', '.join(INPUTS)}")
    inputs: dict[str, CanInput | ObdInput] = {}
    for name, kind in INPUTS.items():
        if name in absent:
            if name in names:
                problems.add(f"signals.{name}", "mapped, and listed in absent")
            continue
        if signals is None or name not in names:
            problems.add(
                f"signals.{name}", "missing (map it, or list it in absent if the car lacks it)"
            )
            continue
        table = signals.table(name)
        parsed = problems.check(functools.partial(_input, name, kind, table))
        if parsed is not None:
            inputs[name] = parsed
    if signals is not None:
        for name in names:
            signals.get(name)
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
        threshold = _threshold(kind, table)
        unit, factor = _unit(name, kind, table)
        if kind.many_signals and table.has("sources"):
            sources = tuple(
                _source(kind, _Table(raw, f"{table.key('sources')}[{i}]"), threshold)
                for i, raw in enumerate(_list(table, "sources"))
            )
        else:
            sources = (_source(kind, table, threshold, close=False),)
        result = CanInput(name, sources, threshold, unit, factor)
    else:
        raise ProfileError(table.key("source"), 'must be "can" or "obd"')
    table.close()
    return result


def _list(table: _Table, name: str) -> list[object]:
    value = table.get(name)
    if not isinstance(value, list) or not value:
        raise ProfileError(table.key(name), "must be a non-empty list of tables")
    return value


def _source(
    kind: InputKind, table: _Table, threshold: Threshold | None, *, close: bool = True
) -> CanSource:
    message = table.text("message")
    signals = table.texts("signals") if kind.many_signals else (table.text("signal"),)
    if not signals:
        raise ProfileError(table.key("signals"), "must name at least one signal")
    values = _values(kind, table) if threshold is None else {}
    if close:
        table.close()
    return CanSource(message, signals, MappingProxyType(values))


def _threshold(kind: InputKind, table: _Table) -> Threshold | None:
    if not table.has("above"):
        if table.has("hysteresis"):
            raise ProfileError(table.key("hysteresis"), "needs above")
        return None
    if kind.states != _BOOL or kind.many_signals:
        raise ProfileError(table.key("above"), "a threshold makes a true/false input of a number")
    if table.has("values"):
        raise ProfileError(table.key("above"), "give either values or above, not both")
    above = table.get("above")
    if not _is_number(above):
        raise ProfileError(table.key("above"), "must be a number")
    hysteresis = table.get("hysteresis") if table.has("hysteresis") else 0
    if not _is_number(hysteresis) or hysteresis < 0:
        raise ProfileError(table.key("hysteresis"), "must be a number >= 0")
    return Threshold(float(above), float(hysteresis))


def _unit(name: str, kind: InputKind, table: _Table) -> tuple[str | None, float]:
    if not table.has("unit"):
        for key in kind.per_unit_key.values():
            if table.has(key):
                raise ProfileError(table.key(key), "only with a unit that needs it")
        return None, 1.0
    unit = table.text("unit")
    if unit not in kind.units:
        known = ", ".join(kind.units) if kind.units else "none: it is not a number"
        raise ProfileError(table.key("unit"), f"unknown unit {unit!r} for {name}; units: {known}")
    factor = kind.units[unit]
    if factor is not None:
        return unit, factor
    key = kind.per_unit_key[unit]
    full = table.get(key) if table.has(key) else None
    if not _is_number(full) or full <= 0:
        raise ProfileError(table.key(key), f"a number > 0, needed for unit {unit!r}")
    return unit, 100.0 / float(full)


def _values(kind: InputKind, table: _Table) -> dict[str, tuple[DbcValue, ...]]:
    if not kind.states:
        return {}
    values = table.table("values")
    mapping = {state: values.dbc_values(state) for state in kind.states}
    values.close()
    return mapping


def _commands(
    commands: _Table | None, absent: tuple[str, ...], problems: Problems
) -> dict[str, CommandMap]:
    names = commands.names() if commands is not None else []
    for name in names:
        if name not in COMMANDS:
            problems.add(f"commands.{name}", f"unknown command; commands are {', '.join(COMMANDS)}")
    result = {}
    for name in COMMANDS:
        if name in absent:
            if name in names:
                problems.add(f"commands.{name}", "mapped, and listed in absent")
            continue
        if commands is None or name not in names:
            problems.add(
                f"commands.{name}",
                "missing (map it, or list it in absent if the car takes no such command)",
            )
            continue
        parsed = problems.check(functools.partial(_command, name, commands.table(name)))
        if parsed is not None:
            result[name] = parsed
    if commands is not None:
        for name in names:
            commands.get(name)
        commands.close()
    return result


def _command(name: str, table: _Table) -> CommandMap:
    message = table.text("message")
    settings = table.table("set")
    if not settings.names():
        raise ProfileError(table.key("set"), "must set at least one signal")
    command = CommandMap(
        name, message, MappingProxyType({s: settings.dbc_value(s) for s in settings.names()})
    )
    table.close()
    return command


def _protected(top: _Table) -> dict[str, Protection]:
    if not top.has("protected"):
        return {}
    protected = top.table("protected")
    result = {}
    for message in protected.names():
        table = protected.table(message)
        algorithm = table.text("algorithm")
        if algorithm not in ALGORITHMS:
            problem = f"unknown checksum {algorithm!r}; the algorithms are {', '.join(ALGORITHMS)}"
            raise ProfileError(table.key("algorithm"), problem)
        counter = table.text("counter") if table.has("counter") else ""
        checksum = table.text("checksum")
        data_ids: tuple[int, ...] = ()
        if algorithm in NEEDS_DATA_IDS:
            raw = table.get("data_ids")
            if (
                not isinstance(raw, list)
                or len(raw) not in (1, 16)
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in raw)
                or not all(0 <= v <= 0xFF for v in raw)
            ):
                problem = "must list 16 bytes (one per counter value) or one"
                raise ProfileError(table.key("data_ids"), problem)
            data_ids = tuple(raw)
        result[message] = Protection(message, counter, checksum, algorithm, data_ids)
        table.close()
    protected.close()
    return result


def _cycles(top: _Table) -> dict[str, float]:
    if not top.has("cycle_s"):
        return {}
    table = top.table("cycle_s")
    cycles = {message: table.seconds(message, DEFAULT_CYCLE_S) for message in table.names()}
    table.close()
    return cycles

"""Looking things up in a cantools database on behalf of a profile: errors name the profile key."""

import functools
import math
import re
from dataclasses import dataclass
from pathlib import Path

import cantools.database
from cantools.database.can import Database, Message, Signal
from cantools.database.errors import Error as CantoolsError

from .errors import ProfileError
from .profile import DbcValue

_RAW_TOLERANCE = 1e-6
"""Slack for float error when a physical limit becomes a raw one (655.34 / 0.01 < 65534)."""

MAX_SKIPPED_LINES = 100
_LINE = re.compile(r"line (\d+)")


@dataclass(frozen=True)
class LoadedDbc:
    """A DBC loaded leniently: `malformed` names each message cantools would refuse in strict
    mode (with why), `skipped` each line it cannot parse at all (a comment it cannot read)."""

    database: Database
    malformed: dict[str, str]
    skipped: tuple[str, ...]


def load_database(path: Path) -> Database:
    return load_lenient(path).database


@functools.lru_cache(maxsize=16)
def _load_cached(path: Path, mtime_ns: int) -> LoadedDbc:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        raise ProfileError("dbc", f"cannot load {path}: {error.strerror}") from error
    lines = text.splitlines()
    skipped: list[str] = []
    while True:
        try:
            database = cantools.database.load_string(
                "\n".join(lines), database_format="dbc", strict=False
            )
            break
        except (CantoolsError, ValueError) as error:
            number = _unparsable_comment(error, lines)
            if number is None or len(skipped) >= MAX_SKIPPED_LINES:
                raise ProfileError("dbc", f"{path} does not parse: {error}") from error
            skipped.append(f"line {number + 1}: {lines[number][:60]}")
            lines[number] = ""
    if not isinstance(database, Database):
        raise ProfileError("dbc", f"{path} is not a CAN database")
    malformed = {}
    for message in database.messages:
        problem = strict_problem(message)
        if problem is not None:
            malformed[message.name] = problem
    return LoadedDbc(database, malformed, tuple(skipped))


def load_lenient(path: Path) -> LoadedDbc:
    """The DBC at `path`, parsed once per file version; a comment line cantools cannot parse
    is skipped, a malformed message kept (refused only when a profile reads it)."""
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as error:
        raise ProfileError("dbc", f"cannot load {path}: {error.strerror}") from error
    return _load_cached(path, mtime)


def _unparsable_comment(error: Exception, lines: list[str]) -> int | None:
    """The index of the line the parse error points at, when it is a comment (CM_)."""
    match = _LINE.search(str(error))
    if match is None:
        return None
    number = int(match.group(1)) - 1
    if 0 <= number < len(lines) and lines[number].lstrip().startswith("CM_"):
        return number
    return None


def strict_problem(message: Message) -> str | None:
    """Why cantools would refuse `message` in strict mode (overlapping signals, a signal
    outside the payload); None when it is sound."""
    try:
        message.refresh(strict=True)
    except (CantoolsError, ValueError) as error:
        message.refresh(strict=False)
        return str(error)
    return None


def find_message(loaded: LoadedDbc, name: str, key: str) -> Message:
    try:
        message = loaded.database.get_message_by_name(name)
    except KeyError:
        raise ProfileError(key, f"no message {name!r} in the DBC") from None
    if name in loaded.malformed:
        raise ProfileError(key, f"{name} is malformed in the DBC: {loaded.malformed[name]}")
    if message.is_multiplexed() or message.is_container or message.is_extended_frame:
        raise ProfileError(key, f"{name} is multiplexed, a container or extended: not supported")
    if any(signal.conversion.is_float for signal in message.signals):
        raise ProfileError(key, f"{name} has an IEEE float signal: not supported")
    return message


def find_signal(message: Message, name: str, key: str) -> Signal:
    try:
        return message.get_signal_by_name(name)
    except KeyError:
        raise ProfileError(key, f"no signal {name!r} in message {message.name}") from None


def bit_range(signal: Signal) -> tuple[int, int]:
    """The raw values the signal's bits can hold."""
    if signal.is_signed:
        return -(1 << (signal.length - 1)), (1 << (signal.length - 1)) - 1
    return 0, (1 << signal.length) - 1


def valid_range(signal: Signal) -> tuple[int, int]:
    """The raw values whose physical value is inside the signal's [minimum|maximum]."""
    low, high = bit_range(signal)
    scale, offset = signal.conversion.scale, signal.conversion.offset
    for limit, is_minimum in ((signal.minimum, True), (signal.maximum, False)):
        if limit is None:
            continue
        edge = (limit - offset) / scale
        if (scale > 0) == is_minimum:
            low = max(low, math.ceil(edge - _RAW_TOLERANCE))
        else:
            high = min(high, math.floor(edge + _RAW_TOLERANCE))
    return low, high


def raw_value(signal: Signal, value: DbcValue, key: str) -> int:
    """The raw value a profile names by value-table name or as a raw integer."""
    if isinstance(value, str):
        try:
            return signal.conversion.choice_to_number(value)
        except KeyError:
            problem = f"{value!r} is not in the value table of {signal.name}"
            raise ProfileError(key, problem) from None
    low, high = bit_range(signal)
    if not low <= value <= high:
        raise ProfileError(key, f"{value} does not fit the {signal.length} bits of {signal.name}")
    return value


def not_available_raws(signal: Signal, names: tuple[str, ...]) -> tuple[int, ...]:
    """The raw values the signal's value table names "not available" (in `names`)."""
    if signal.choices is None:
        return ()
    return tuple(raw for raw, name in signal.choices.items() if str(name) in names)

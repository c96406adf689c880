"""Looking things up in a cantools database on behalf of a profile: errors name the profile key."""

import math
from pathlib import Path

import cantools.database
from cantools.database.can import Database, Message, Signal
from cantools.database.errors import Error as CantoolsError

from .errors import ProfileError
from .profile import DbcValue

_RAW_TOLERANCE = 1e-6
"""Slack for float error when a physical limit becomes a raw one (655.34 / 0.01 < 65534)."""


def load_database(path: Path) -> Database:
    try:
        database = cantools.database.load_file(path, database_format="dbc", strict=True)
    except (CantoolsError, OSError, ValueError) as error:
        raise ProfileError("dbc", f"cannot load {path}: {error}") from error
    if not isinstance(database, Database):
        raise ProfileError("dbc", f"{path} is not a CAN database")
    return database


def find_message(database: Database, name: str, key: str) -> Message:
    try:
        message = database.get_message_by_name(name)
    except KeyError:
        raise ProfileError(key, f"no message {name!r} in the DBC") from None
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

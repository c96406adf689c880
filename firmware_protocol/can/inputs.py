"""Logical inputs as raw signal values: read from a decoded frame, written for an encoded one."""

import math
from decimal import Decimal

from cantools.database.can import Message, Signal

from .dbc import find_signal, not_available_raws, raw_value, valid_range
from .errors import CanEncodeError, ProfileError
from .frame import RawSignals
from .profile import CanInput, CanSource, InputKind, Threshold
from .values import NOT_AVAILABLE, LogicalValue

CONVERTED_DIGITS = 3
"""Decimal places a converted number keeps beyond those of its signal (bars to %, miles to km)."""


class NumberInput:
    """A physical value. NOT_AVAILABLE for a raw the value table names "not available" and for
    a raw outside the signal's [minimum|maximum]. Rounded to the resolution of the signal."""

    def __init__(
        self,
        name: str,
        message: Message,
        signal_name: str,
        key: str,
        not_available_names: tuple[str, ...],
        factor: float = 1.0,
    ) -> None:
        signal = find_signal(message, signal_name, key)
        if _is_enumeration(signal):
            raise ProfileError(key, f"{signal.name} has a value table: not a number")
        self.name = name
        self.key = name
        self.signals = (signal.name,)
        self._signal = signal.name
        self._scale = float(signal.conversion.scale)
        self._offset = float(signal.conversion.offset)
        self._digits = max(_decimals(self._scale), _decimals(self._offset))
        self._low, self._high = valid_range(signal)
        self._not_available = frozenset(not_available_raws(signal, not_available_names))
        self._write_not_available = min(self._not_available, default=None)
        self._factor = factor
        if factor != 1.0:
            self._digits += CONVERTED_DIGITS

    def read(self, raw: RawSignals) -> LogicalValue:
        value = raw[self._signal]
        if value in self._not_available or not self._low <= value <= self._high:
            return NOT_AVAILABLE
        return round((value * self._scale + self._offset) * self._factor, self._digits)

    def physical_range(self) -> tuple[float, float]:
        """The lowest and highest logical value the signal can carry."""
        ends = [
            (raw * self._scale + self._offset) * self._factor for raw in (self._low, self._high)
        ]
        return min(ends), max(ends)

    def write(self, value: LogicalValue, raw: dict[str, int]) -> None:
        if value is NOT_AVAILABLE:
            if self._write_not_available is None:
                raise CanEncodeError(f"{self._signal} has no not-available value for {self.name}")
            raw[self._signal] = self._write_not_available
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CanEncodeError(f"{self.name} must be a number, not {value!r}")
        if not math.isfinite(value):
            raise CanEncodeError(f"{self.name} must be a number, not {value!r}")
        encoded = round((value / self._factor - self._offset) / self._scale)
        if not self._low <= encoded <= self._high:
            raise CanEncodeError(f"{self.name} {value} is outside the range of {self._signal}")
        raw[self._signal] = encoded


class StateInput:
    """A logical state (bool, or "locked"/"unlocked") listed by DBC value in the profile.

    Over several signals (doors_closed) it is True iff every signal is true, False if any is
    false, else NOT_AVAILABLE. A raw value the profile does not list is NOT_AVAILABLE.
    Writing False over several signals makes the first one false and the others true.
    """

    def __init__(
        self,
        name: str,
        spec: CanSource,
        kind: InputKind,
        message: Message,
        key: str,
        not_available_names: tuple[str, ...],
    ) -> None:
        signal_key = f"{key}.signals" if kind.many_signals else f"{key}.signal"
        signals = [find_signal(message, name, signal_key) for name in spec.signals]
        self.name = name
        self.key = name
        self.signals = tuple(signal.name for signal in signals)
        self._tables: list[dict[int, bool | str]] = [{} for _ in signals]
        first_raws: dict[str, list[int]] = {}
        for state, dbc_values in spec.values.items():
            logical = kind.states[state]
            state_key = f"{key}.values.{state}"
            first_raws[state] = []
            for signal, table in zip(signals, self._tables, strict=True):
                raws = [raw_value(signal, value, state_key) for value in dbc_values]
                for raw in raws:
                    if table.setdefault(raw, logical) != logical:
                        raise ProfileError(state_key, f"raw {raw} of {signal.name} is listed twice")
                first_raws[state].append(raws[0])
        self._writes: dict[tuple[type, object], tuple[int, ...]] = {
            (type(kind.states[state]), kind.states[state]): tuple(raws)
            for state, raws in first_raws.items()
        }
        if kind.many_signals:
            self._writes[(bool, False)] = (first_raws["false"][0], *first_raws["true"][1:])
        not_available = [
            min(not_available_raws(s, not_available_names), default=None) for s in signals
        ]
        self._write_not_available: tuple[int, ...] | None = (
            None if None in not_available else tuple(r for r in not_available if r is not None)
        )
        self._single = len(signals) == 1

    def read(self, raw: RawSignals) -> LogicalValue:
        if self._single:
            return self._tables[0].get(raw[self.signals[0]], NOT_AVAILABLE)
        values = [
            table.get(raw[signal], NOT_AVAILABLE)
            for signal, table in zip(self.signals, self._tables, strict=True)
        ]
        if False in values:
            return False
        if NOT_AVAILABLE in values:
            return NOT_AVAILABLE
        return True

    def write(self, value: LogicalValue, raw: dict[str, int]) -> None:
        if value is NOT_AVAILABLE:
            raws = self._write_not_available
            if raws is None:
                raise CanEncodeError(f"{self.signals} have no not-available value for {self.name}")
        else:
            raws = self._writes.get((type(value), value)) if isinstance(value, bool | str) else None
            if raws is None:
                allowed = [state for _, state in self._writes]
                raise CanEncodeError(f"{self.name} must be one of {allowed}, not {value!r}")
        raw.update(zip(self.signals, raws, strict=True))


class ThresholdInput:
    """True above a number, with hysteresis: true once the signal exceeds `above`, false once
    it is at or below `above - hysteresis`; in between it stays as it was (false at first).
    NOT_AVAILABLE as for a number. Writing true writes a value just past the band, false 0
    (or the lowest valid value); writing a number writes that number (the simulator's rpm)."""

    def __init__(self, number: NumberInput, threshold: Threshold) -> None:
        self.name = number.name
        self.key = number.name
        self.signals = number.signals
        self._number = number
        self._above = threshold.above
        self._below = threshold.above - threshold.hysteresis
        self._state = False

    def read(self, raw: RawSignals) -> LogicalValue:
        value = self._number.read(raw)
        if value is NOT_AVAILABLE or isinstance(value, bool | str):
            self._state = False
            return NOT_AVAILABLE
        if value > self._above:
            self._state = True
        elif value <= self._below:
            self._state = False
        return self._state

    def write(self, value: LogicalValue, raw: dict[str, int]) -> None:
        if value is NOT_AVAILABLE:
            self._number.write(value, raw)
            return
        if isinstance(value, int | float) and not isinstance(value, bool):
            self._number.write(value, raw)
            return
        if not isinstance(value, bool):
            raise CanEncodeError(f"{self.name} must be true, false or a number, not {value!r}")
        low, high = self._number.physical_range()
        number = min(high, self._above + max(1.0, self._above - self._below)) if value else low
        self._number.write(max(low, number) if value else min(max(0.0, low), high), raw)


Part = NumberInput | StateInput | ThresholdInput


def build_input(
    spec: CanInput,
    source: CanSource,
    kind: InputKind,
    message: Message,
    not_available_names: tuple[str, ...],
    key: str,
) -> Part:
    """The reader of one source (one message's part) of input `spec`."""
    if spec.threshold is not None:
        number = NumberInput(
            spec.name, message, source.signals[0], f"{key}.signal", not_available_names
        )
        return ThresholdInput(number, spec.threshold)
    if kind.states:
        return StateInput(spec.name, source, kind, message, key, not_available_names)
    return NumberInput(
        spec.name, message, source.signals[0], f"{key}.signal", not_available_names, spec.factor
    )


def _is_enumeration(signal: Signal) -> bool:
    """A signal whose value table names half its raw values or more is a set of states, not a
    number (a number's table names a few special raws: "not available", "init")."""
    return bool(signal.choices) and len(signal.choices or {}) * 2 >= 1 << signal.length


def _decimals(number: float) -> int:
    """Decimal places of a scale or offset as written in the DBC (0.01 -> 2, 0.25 -> 2)."""
    exponent = Decimal(repr(number)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0

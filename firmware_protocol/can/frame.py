"""One DBC message on the wire: its exact length and, when protected, its counter and checksum."""

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import cast

from cantools.database.can import Message, Signal
from cantools.database.errors import EncodeError

from .checksum import ALGORITHMS, ChecksumAlgorithm
from .dbc import find_signal, valid_range
from .errors import CanDecodeError, CanEncodeError, ProfileError
from .profile import Protection

RawSignals = Mapping[str, int]
"""Raw (unscaled) value of every signal of a message, by signal name."""


class MessageFrame:
    """Reads and writes one message's payload as raw signal values.

    Reading refuses a payload of the wrong length or with a bad checksum; writing fills in
    the rolling counter (taken modulo its range, so a caller may count up without end) and
    the checksum.
    """

    def __init__(self, message: Message, protection: Protection | None) -> None:
        self.message = message
        self.name: str = message.name
        self.frame_id: int = message.frame_id
        self.length: int = message.length
        self.defaults: RawSignals = MappingProxyType({s.name: _default(s) for s in message.signals})
        self._decode = cast(Callable[..., RawSignals], message.decode_simple)
        self._counter: str | None = None
        self._modulus = 1
        self._checksum_index = 0
        self._checksum: ChecksumAlgorithm | None = None
        self._data_ids: tuple[int, ...] = ()
        if protection is not None:
            key = f"protected.{message.name}"
            checksum = find_signal(message, protection.checksum, f"{key}.checksum")
            self._checksum_index = _checksum_byte(checksum, f"{key}.checksum")
            if protection.counter:
                counter = find_signal(message, protection.counter, f"{key}.counter")
                _require_counter(counter, f"{key}.counter")
                self._counter = counter.name
                self._modulus = 1 << counter.length
            self._checksum = ALGORITHMS[protection.algorithm]
            self._data_ids = protection.data_ids
        self.protected_signals = (
            frozenset({protection.counter, protection.checksum}) - {""}
            if protection
            else frozenset()
        )

    def read(self, data: bytes | bytearray) -> RawSignals:
        if len(data) != self.length:
            raise CanDecodeError(
                f"{self.name}: {len(data)} bytes, {self.length} expected", reason="length"
            )
        raw = self._decode(data, decode_choices=False, scaling=False)
        if self._checksum is not None:
            expected = self._checksum(
                self.frame_id, data, self._checksum_index, self.counter(raw), self._data_ids
            )
            if data[self._checksum_index] != expected:
                raise CanDecodeError(
                    f"{self.name}: checksum {data[self._checksum_index]:#04x}, {expected:#04x} due",
                    reason="checksum",
                )
        return raw

    @property
    def protected(self) -> bool:
        return self._counter is not None

    def counter(self, raw: RawSignals) -> int:
        return raw[self._counter] if self._counter is not None else 0

    def write(self, raw: dict[str, int], counter: int) -> bytes:
        """The payload carrying `raw` (every signal of the message) and `counter`."""
        if self._counter is not None:
            raw[self._counter] = counter % self._modulus
        try:
            data = self.message.encode(raw, scaling=False, strict=True)
        except EncodeError as error:
            raise CanEncodeError(f"{self.name}: {error}") from error
        if self._checksum is None:
            return data
        payload = bytearray(data)
        payload[self._checksum_index] = self._checksum(
            self.frame_id, payload, self._checksum_index, self.counter(raw), self._data_ids
        )
        return bytes(payload)

    def raw_of(self, signal_name: str, value: float | str) -> int:
        """The raw value of a physical value or value-table name of one of the signals."""
        try:
            signal = self.message.get_signal_by_name(signal_name)
        except KeyError:
            raise CanEncodeError(f"{self.name} has no signal {signal_name!r}") from None
        try:
            if isinstance(value, str):
                return signal.conversion.choice_to_number(value)
            return round(signal.conversion.numeric_scaled_to_raw(value))
        except (KeyError, ValueError, OverflowError, TypeError) as error:
            raise CanEncodeError(f"{self.name}.{signal_name} cannot be {value!r}") from error


def _default(signal: Signal) -> int:
    """The raw value of a signal nobody sets: its DBC start value, else 0 if valid."""
    if signal.raw_initial is not None:
        return int(signal.raw_initial)
    low, high = valid_range(signal)
    return 0 if low <= 0 <= high else low


def _require_counter(signal: Signal, key: str) -> None:
    conversion = signal.conversion
    if signal.is_signed or conversion.scale != 1 or conversion.offset != 0:
        raise ProfileError(key, f"{signal.name} must be an unsigned, unscaled counter")


def _checksum_byte(signal: Signal, key: str) -> int:
    """The payload byte the checksum signal fills."""
    top_bit = 0 if signal.byte_order == "little_endian" else 7
    if signal.length != 8 or signal.is_signed or signal.start % 8 != top_bit:
        raise ProfileError(key, f"{signal.name} must be one whole unsigned byte")
    return signal.start // 8

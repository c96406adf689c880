"""The vehicle's CAN codec, compiled once from a signal profile and its DBC.

The agent decodes status frames into logical values and encodes commands; the vehicle
simulator runs the same codec in reverse: it decodes commands and encodes status frames.

An input read from several messages (doors_closed over four door messages) is decoded per
source: each source has its own key ("doors_closed@CGW2") and cycle time, so the staleness of
every source counts; `combine` makes the logical input of the sources' latest values.
"""

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple, TypeVar

from cantools.database.can import Message

from .dbc import LoadedDbc, find_message, find_signal, load_lenient, raw_value
from .errors import CanDecodeError, CanEncodeError, ProfileError
from .frame import MessageFrame
from .inputs import Part, build_input
from .profile import INPUTS, CanInput, CommandMap, ObdInput, Problems, Profile, load_profile
from .values import NOT_AVAILABLE, LogicalValue

T = TypeVar("T")
CLASSIC_CAN_BYTES = 8


class Command(NamedTuple):
    name: str
    counter: int | None
    """The frame's rolling counter; None for a message that carries none."""


@dataclass(frozen=True)
class Broadcast:
    """A cyclic message the car sends, with the logical inputs it carries."""

    message: str
    frame_id: int
    cycle_s: float
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class _Status:
    frame: MessageFrame
    parts: tuple[Part, ...]
    cycle_s: float


@dataclass(frozen=True)
class _Command:
    name: str
    frame: MessageFrame
    settings: Mapping[str, int]
    raws: Mapping[str, int]
    """Every signal of the frame as the command sends it (its settings over the defaults)."""


class VehicleCodec:
    """Logical inputs and commands <-> CAN frames, as the profile maps them onto its DBC.

    Attributes:
        profile: the profile compiled.
        receive_ids: ids of the frames carrying inputs (the agent's bus filter); a frame of
            any other id is dropped by id before anything is decoded.
        command_ids: ids of the command frames (the simulator's bus filter).
        cycle_s: seconds between two refreshes of each source key, CAN or OBD-II; a source not
            refreshed for 3 of them is stale.
        obd_inputs: the inputs the profile takes from OBD-II service 0x01, with PID and poll period.
        broadcasts: the cyclic messages carrying inputs, for the simulator to send.
        notes: what check-config tells about the profile beyond its problems: what the car
            lacks, malformed DBC messages the profile does not read, default cycle times.
    """

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self._problems = Problems()
        self.notes: list[str] = profile.lacks()
        loaded = load_lenient(profile.dbc)
        self._loaded = loaded
        self._frames: dict[str, MessageFrame] = {}
        for name in profile.protected:
            self._check(functools.partial(self._frame, name, f"protected.{name}"))
        statuses = self._compile_inputs()
        commands = self._compile_commands()
        self._note_dbc(loaded)
        if profile.listen_only:
            self.notes.append(
                "the box listens only (no command, no OBD-II polling): it writes no frame; "
                "SocketCAN: set ListenOnly=yes in 80-edge-can0.network"
            )
        self._problems.raise_any()
        self._status_by_id = {status.frame.frame_id: status for status in statuses}
        self._status_by_name = {status.frame.name: status for status in statuses}
        self._commands = {command.name: command for command in commands}
        self._commands_by_id: dict[int, list[_Command]] = {}
        for command in commands:
            self._commands_by_id.setdefault(command.frame.frame_id, []).append(command)
        self.receive_ids = frozenset(self._status_by_id)
        self.command_ids = frozenset(self._commands_by_id)
        self.obd_inputs: Mapping[str, ObdInput] = MappingProxyType(
            {n: i for n, i in profile.inputs.items() if isinstance(i, ObdInput)}
        )
        self.broadcasts = tuple(
            Broadcast(
                status.frame.name,
                status.frame.frame_id,
                status.cycle_s,
                tuple(dict.fromkeys(part.name for part in status.parts)),
            )
            for status in statuses
        )
        cycles = {part.key: s.cycle_s for s in statuses for part in s.parts}
        cycles |= {name: obd.poll_s for name, obd in self.obd_inputs.items()}
        self.cycle_s: Mapping[str, float] = MappingProxyType(cycles)
        self._sources: dict[str, tuple[str, ...]] = {}
        for status in statuses:
            for part in status.parts:
                self._sources.setdefault(part.name, ())
                self._sources[part.name] += (part.key,)
        for name in self.obd_inputs:
            self._sources[name] = (name,)

    @classmethod
    def load(cls, name_or_path: str | Path) -> "VehicleCodec":
        """The codec of a builtin profile ("reference") or of the profile file at a path."""
        return cls(load_profile(name_or_path))

    @property
    def listen_only(self) -> bool:
        return self.profile.listen_only

    @property
    def inputs(self) -> tuple[str, ...]:
        """The logical inputs this car gives."""
        return tuple(self._sources)

    def sources(self, name: str) -> tuple[str, ...]:
        """The source keys of input `name` (itself, for an input with one source)."""
        return self._sources.get(name, ())

    # -- agent side

    def decode(
        self,
        arbitration_id: int,
        data: bytes | bytearray,
        last_counters: dict[int, int] | None = None,
    ) -> dict[str, LogicalValue]:
        """The values a frame carries, by source key; {} for a frame this profile does not
        read. CanDecodeError for a wrong length or a bad checksum, and, given the receiver's
        `last_counters` (kept up to date here), for a protected frame repeating the counter of
        the one before (a stuck or replayed sender)."""
        status = self._status_by_id.get(arbitration_id)
        if status is None:
            return {}
        frame = status.frame
        raw = frame.read(data)
        if last_counters is not None and frame.protected:
            counter = frame.counter(raw)
            if last_counters.get(arbitration_id) == counter:
                raise CanDecodeError(f"{frame.name}: counter {counter} repeated", reason="counter")
            last_counters[arbitration_id] = counter
        return {part.key: part.read(raw) for part in status.parts}

    def combine(self, readings: Callable[[str], LogicalValue | None]) -> dict[str, object]:
        """Each logical input from the latest value of its sources (`readings(key)`, None
        when unknown): over several sources, False if any is False, True if all are True,
        else None."""
        result: dict[str, object] = {}
        for name, keys in self._sources.items():
            if len(keys) == 1:
                result[name] = readings(keys[0])
                continue
            values = [readings(key) for key in keys]
            if False in values:
                result[name] = False
            elif all(value is True for value in values):
                result[name] = True
            else:
                result[name] = None
        return result

    def encode_command(self, name: str, counter: int) -> tuple[int, bytes]:
        """(arbitration id, payload) of command `name` with rolling `counter` (taken modulo
        the counter's range) and its checksum."""
        command = self._commands.get(name)
        if command is None:
            raise CanEncodeError(f"unknown command {name!r}")
        return command.frame.frame_id, command.frame.write(dict(command.raws), counter)

    # -- simulator side

    def decode_command(self, arbitration_id: int, data: bytes | bytearray) -> Command | None:
        """The command in a frame, checksum verified; None for an id that carries no command."""
        candidates = self._commands_by_id.get(arbitration_id)
        if candidates is None:
            return None
        frame = candidates[0].frame
        raw = frame.read(data)
        told_by = {signal for command in candidates for signal in command.settings}
        for command in candidates:
            if all(raw[signal] == command.raws[signal] for signal in told_by):
                return Command(command.name, frame.counter(raw) if frame.protected else None)
        raise CanDecodeError(f"{frame.name} carries no command: {bytes(data).hex()}")

    def encode_status(
        self,
        message: str,
        values: Mapping[str, LogicalValue],
        *,
        counter: int = 0,
        other_signals: Mapping[str, float | str] | None = None,
        raw_signals: Mapping[str, int] | None = None,
    ) -> tuple[int, bytes]:
        """(arbitration id, payload) of broadcast `message` carrying `values`.

        `values` holds at least the inputs the message carries (more are ignored), any may be
        NOT_AVAILABLE; an input that is a threshold on a number (engine_running above an rpm)
        may be given as that number. `other_signals` sets DBC signals by physical value or
        value-table name, `raw_signals` by raw value, applied last (e.g. EngineSpeed, or one
        door open); the rest take their DBC start value. Either may name signals of other
        messages: those are skipped.
        """
        status = self._status_by_name.get(message)
        if status is None:
            raise CanEncodeError(f"{message!r} is not a message this profile broadcasts")
        raw = dict(status.frame.defaults)
        for part in status.parts:
            try:
                value = values[part.name]
            except KeyError:
                raise CanEncodeError(f"{message} carries {part.name}: missing") from None
            if value is False and part.key != part.name and not self._first_source(part):
                value = True  # one source false makes the input false: the first one
            part.write(value, raw)
        for signal, physical in (other_signals or {}).items():
            raw[signal] = status.frame.raw_of(signal, physical)
        for signal, value in (raw_signals or {}).items():
            if signal in raw:
                raw[signal] = value
        return status.frame.frame_id, status.frame.write(raw, counter)

    def message(self, name: str) -> Message:
        """The DBC message `name` (the simulator reads its signals' units and ranges)."""
        return self._loaded.database.get_message_by_name(name)

    def full_broadcast(self, unknown_cycle_s: float | None = None) -> list[tuple[Message, float]]:
        """Every standard-id classic-CAN message of the DBC with its cycle time: the whole bus
        as a car would fill it (the simulator's --full-dbc, the bench). A message whose cycle
        neither the profile nor the DBC gives comes every `unknown_cycle_s` (default: the
        profile's default_cycle_s)."""
        result = []
        for message in self._loaded.database.messages:
            if (
                message.is_extended_frame
                or message.length > CLASSIC_CAN_BYTES
                or message.name in self._loaded.malformed
            ):
                continue
            result.append((message, self._cycle_of(message, unknown_cycle_s)))
        return result

    # -- compiling

    def _check(self, compile_one: Callable[[], T]) -> T | None:
        return self._problems.check(compile_one)

    def _first_source(self, part: Part) -> bool:
        return self._sources.get(part.name, (part.key,))[0] == part.key

    def _frame(self, name: str, key: str) -> MessageFrame:
        if name not in self._frames:
            message = find_message(self._loaded, name, key)
            self._frames[name] = MessageFrame(message, self.profile.protected.get(name))
        return self._frames[name]

    def _cycle_of(self, message: Message, unknown_cycle_s: float | None = None) -> float:
        given = self.profile.cycle_s.get(message.name)
        if given is not None:
            return given
        if message.cycle_time:
            return message.cycle_time / 1000
        return unknown_cycle_s or self.profile.default_cycle_s

    def _compile_inputs(self) -> list[_Status]:
        by_message: dict[str, list[Part]] = {}
        for name, spec in self.profile.inputs.items():
            if isinstance(spec, CanInput):
                self._check(functools.partial(self._compile_input, name, spec, by_message))
        statuses = []
        for message, parts in by_message.items():
            frame = self._frames[message]
            cycle = self._cycle_of(frame.message)
            if message not in self.profile.cycle_s and not frame.message.cycle_time:
                self.notes.append(
                    f"cycle_s.{message}: no cycle time in the DBC or the profile: "
                    f"staleness counts {cycle:g} s (default_cycle_s)"
                )
            statuses.append(_Status(frame, tuple(parts), cycle))
        return statuses

    def _compile_input(self, name: str, spec: CanInput, by_message: dict[str, list[Part]]) -> None:
        many = len(spec.sources) > 1
        for index, source in enumerate(spec.sources):
            key = f"signals.{name}.sources[{index}]" if many else f"signals.{name}"
            frame = self._frame(source.message, f"{key}.message")
            part = build_input(
                spec,
                source,
                INPUTS[name],
                frame.message,
                self.profile.not_available_choices,
                key,
            )
            if many:
                part.key = f"{name}@{source.message}"
            _refuse_protection_signals(frame, part.signals, key)
            parts = by_message.setdefault(source.message, [])
            if any(other.name == name for other in parts):
                raise ProfileError(f"{key}.message", f"{source.message} is listed twice")
            parts.append(part)

    def _compile_commands(self) -> list[_Command]:
        commands: list[_Command] = []
        for name, spec in self.profile.commands.items():
            command = self._check(functools.partial(self._compile_command, name, spec))
            if command is None:
                continue
            for other in commands:
                if other.frame is command.frame and other.raws == command.raws:
                    self._problems.add(
                        f"commands.{name}.set", f"sends the same frame as {other.name}"
                    )
            commands.append(command)
        return commands

    def _compile_command(self, name: str, spec: CommandMap) -> _Command:
        key = f"commands.{name}"
        frame = self._frame(spec.message, f"{key}.message")
        settings = _settings(frame, spec, key)
        raws = dict(frame.defaults) | settings
        return _Command(name, frame, MappingProxyType(settings), MappingProxyType(raws))

    def _note_dbc(self, loaded: LoadedDbc) -> None:
        for line in loaded.skipped:
            self.notes.append(f"dbc: skipped {line} (cantools cannot parse it)")
        for message, problem in loaded.malformed.items():
            if message not in self._frames:
                self.notes.append(f"dbc: {message} is malformed, and not read: {problem}")


def _settings(frame: MessageFrame, spec: CommandMap, key: str) -> dict[str, int]:
    settings = {}
    for signal_name, value in spec.set.items():
        signal = find_signal(frame.message, signal_name, f"{key}.set")
        settings[signal.name] = raw_value(signal, value, f"{key}.set.{signal_name}")
    _refuse_protection_signals(frame, tuple(settings), f"{key}.set")
    return settings


def _refuse_protection_signals(frame: MessageFrame, signals: tuple[str, ...], key: str) -> None:
    taken = frame.protected_signals.intersection(signals)
    if taken:
        raise ProfileError(key, f"{sorted(taken)} are the counter or checksum of {frame.name}")


__all__ = ["NOT_AVAILABLE", "Broadcast", "Command", "VehicleCodec"]

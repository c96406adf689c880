"""The vehicle's CAN codec, compiled once from a signal profile and its DBC.

The agent decodes status frames into logical values and encodes commands; the vehicle
simulator runs the same codec in reverse: it decodes commands and encodes status frames.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from cantools.database.can import Database

from .dbc import find_message, find_signal, load_database, raw_value
from .errors import CanDecodeError, CanEncodeError, ProfileError
from .frame import MessageFrame
from .inputs import NumberInput, StateInput, build_input
from .profile import INPUTS, CanInput, CommandMap, ObdInput, Profile, load_profile
from .values import LogicalValue

Input = NumberInput | StateInput


class Command(NamedTuple):
    name: str
    counter: int


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
    inputs: tuple[Input, ...]
    cycle_s: float


@dataclass(frozen=True)
class _Command:
    name: str
    frame: MessageFrame
    settings: Mapping[str, int]


class VehicleCodec:
    """Logical inputs and commands <-> CAN frames, as the profile maps them onto its DBC.

    Attributes:
        profile: the profile compiled.
        receive_ids: ids of the frames carrying inputs (the agent's bus filter).
        command_ids: ids of the command frames (the simulator's bus filter).
        cycle_s: seconds between two refreshes of each input, CAN or OBD-II; an input not
            refreshed for 3 of them is stale.
        obd_inputs: the inputs the profile takes from OBD-II service 0x01, with PID and poll period.
        broadcasts: the cyclic messages carrying inputs, for the simulator to send.
    """

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        database = load_database(profile.dbc)
        self._frames: dict[str, MessageFrame] = {}
        for name in profile.protected:
            self._frame(database, name, f"protected.{name}")
        statuses = self._compile_inputs(database)
        commands = self._compile_commands(database)
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
                tuple(i.name for i in status.inputs),
            )
            for status in statuses
        )
        cycles = {name: b.cycle_s for b in self.broadcasts for name in b.inputs}
        cycles |= {name: obd.poll_s for name, obd in self.obd_inputs.items()}
        self.cycle_s: Mapping[str, float] = MappingProxyType(cycles)

    @classmethod
    def load(cls, name_or_path: str | Path) -> "VehicleCodec":
        """The codec of a builtin profile ("reference") or of the profile file at a path."""
        return cls(load_profile(name_or_path))

    # -- agent side

    def decode(self, arbitration_id: int, data: bytes | bytearray) -> dict[str, LogicalValue]:
        """The logical inputs a frame carries; {} for a frame this profile does not read."""
        status = self._status_by_id.get(arbitration_id)
        if status is None:
            return {}
        raw = status.frame.read(data)
        return {logical.name: logical.read(raw) for logical in status.inputs}

    def encode_command(self, name: str, counter: int) -> tuple[int, bytes]:
        """(arbitration id, payload) of command `name` with rolling `counter` (taken modulo
        the counter's range) and its checksum."""
        command = self._commands.get(name)
        if command is None:
            raise CanEncodeError(f"unknown command {name!r}")
        raw = dict(command.frame.defaults)
        raw.update(command.settings)
        return command.frame.frame_id, command.frame.write(raw, counter)

    # -- simulator side

    def decode_command(self, arbitration_id: int, data: bytes | bytearray) -> Command | None:
        """The command in a frame, checksum verified; None for an id that carries no command."""
        candidates = self._commands_by_id.get(arbitration_id)
        if candidates is None:
            return None
        frame = candidates[0].frame
        raw = frame.read(data)
        for command in candidates:
            if all(raw[signal] == value for signal, value in command.settings.items()):
                return Command(command.name, frame.counter(raw))
        raise CanDecodeError(f"{frame.name} carries no command: {bytes(data).hex()}")

    def encode_status(
        self,
        message: str,
        values: Mapping[str, LogicalValue],
        *,
        counter: int = 0,
        other_signals: Mapping[str, float | str] | None = None,
    ) -> tuple[int, bytes]:
        """(arbitration id, payload) of broadcast `message` carrying `values`.

        `values` holds at least the inputs the message carries (more are ignored), any may be
        NOT_AVAILABLE. `other_signals` sets DBC signals by physical value or value-table name,
        applied last (e.g. EngineSpeed, or one door open); the rest take their DBC start value.
        """
        status = self._status_by_name.get(message)
        if status is None:
            raise CanEncodeError(f"{message!r} is not a message this profile broadcasts")
        raw = dict(status.frame.defaults)
        for logical in status.inputs:
            try:
                value = values[logical.name]
            except KeyError:
                raise CanEncodeError(f"{message} carries {logical.name}: missing") from None
            logical.write(value, raw)
        for signal, physical in (other_signals or {}).items():
            raw[signal] = status.frame.raw_of(signal, physical)
        return status.frame.frame_id, status.frame.write(raw, counter)

    # -- compiling

    def _frame(self, database: Database, name: str, key: str) -> MessageFrame:
        if name not in self._frames:
            message = find_message(database, name, key)
            self._frames[name] = MessageFrame(message, self.profile.protected.get(name))
        return self._frames[name]

    def _compile_inputs(self, database: Database) -> list[_Status]:
        by_message: dict[str, list[Input]] = {}
        for name, spec in self.profile.inputs.items():
            if not isinstance(spec, CanInput):
                continue
            key = f"signals.{name}"
            frame = self._frame(database, spec.message, f"{key}.message")
            if not frame.message.cycle_time:
                raise ProfileError(f"{key}.message", f"{frame.name} has no GenMsgCycleTime")
            logical = build_input(
                spec, INPUTS[name], frame.message, self.profile.not_available_choices
            )
            _refuse_protection_signals(frame, logical.signals, key)
            by_message.setdefault(spec.message, []).append(logical)
        return [
            _Status(self._frames[m], tuple(inputs), _cycle_s(self._frames[m]))
            for m, inputs in by_message.items()
        ]

    def _compile_commands(self, database: Database) -> list[_Command]:
        commands: list[_Command] = []
        for name, spec in self.profile.commands.items():
            key = f"commands.{name}"
            frame = self._frame(database, spec.message, f"{key}.message")
            command = _Command(name, frame, MappingProxyType(_settings(frame, spec, key)))
            for other in commands:
                if other.frame is frame and _indistinct(command.settings, other.settings):
                    raise ProfileError(f"{key}.set", f"cannot be told apart from {other.name}")
            commands.append(command)
        return commands


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


def _indistinct(one: Mapping[str, int], other: Mapping[str, int]) -> bool:
    """True if a frame could match both settings: no signal they share differs."""
    return all(other[signal] == value for signal, value in one.items() if signal in other)


def _cycle_s(frame: MessageFrame) -> float:
    return (frame.message.cycle_time or 0) / 1000

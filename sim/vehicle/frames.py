"""The car's cyclic frames, encoded by the profile's own codec (the codec in reverse).

What the car has comes from the profile and its DBC, so another car's profile drives the
simulator without code: its doors are the signals of the profile's doors_closed, across every
message it lists (each door named by its DBC signal, the first the driver's); its engine speed
is the number engine_running is a threshold on (else a signal in rpm beside it); every input is
written in the car's own units. With `full_dbc`, every other message of the DBC goes out too,
at its cycle time, carrying its start values (zeros for a multiplexed one): the whole bus the
box must sift.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from firmware_protocol.can import Broadcast, CanEncodeError, CanInput, LogicalValue, VehicleCodec
from firmware_protocol.can.dbc import raw_value
from firmware_protocol.can.frame import MessageFrame

from .car import Car

RPM_UNIT = "rpm"


@dataclass(frozen=True)
class DoorSwitch:
    """One door's switch: the message and signal carrying it, and its raw open/closed values."""

    message: str
    signal: str
    open_raw: int
    closed_raw: int


@dataclass(frozen=True)
class Background:
    """A message of the DBC the profile does not read, played for the full bus mix."""

    message: str
    frame_id: int
    cycle_s: float
    data: bytes


class CarFrames:
    """Frames of the car as the profile maps them; each message counts its own frames (the
    rolling counter of a protected message is that count, modulo its range)."""

    def __init__(
        self,
        codec: VehicleCodec,
        *,
        full_dbc: bool = False,
        unknown_cycle_s: float | None = None,
    ) -> None:
        self.codec = codec
        self.broadcasts: tuple[Broadcast, ...] = codec.broadcasts
        self.doors: Mapping[str, DoorSwitch] = _doors(codec)
        self._door_raws_closed = {door.signal: door.closed_raw for door in self.doors.values()}
        self._rpm = _rpm_signal(codec)
        self._engine_by_rpm = _engine_is_threshold(codec)
        self.background: tuple[Background, ...] = (
            _background(codec, unknown_cycle_s) if full_dbc else ()
        )
        self.sent = dict.fromkeys((b.message for b in self.broadcasts), 0)
        self.background_sent = 0

    def next_frame(self, broadcast: Broadcast, car: Car, rng: random.Random) -> tuple[int, bytes]:
        """The next frame of `broadcast`, counted."""
        frame = self.encode(broadcast, car, rng, counter=self.sent[broadcast.message])
        self.sent[broadcast.message] += 1
        return frame

    def encode(
        self, broadcast: Broadcast, car: Car, rng: random.Random, *, counter: int = 0
    ) -> tuple[int, bytes]:
        """(id, payload) of `broadcast` carrying the car's state; CanEncodeError when the
        DBC cannot carry it (a value out of the signal's range)."""
        rpm = car.rpm(rng)
        values: dict[str, LogicalValue] = car.inputs()
        if self._engine_by_rpm:
            values["engine_running"] = rpm
        other: dict[str, float | str] = {}
        if self._rpm is not None and broadcast.message == self._rpm[0]:
            other[self._rpm[1]] = rpm
        return self.codec.encode_status(
            broadcast.message,
            values,
            counter=counter,
            other_signals=other,
            raw_signals=self._door_raws(car),
        )

    def check(self, car: Car, rng: random.Random) -> None:
        """Raise CanEncodeError unless every broadcast can carry the car's state."""
        for broadcast in self.broadcasts:
            self.encode(broadcast, car, rng)

    def _door_raws(self, car: Car) -> dict[str, int]:
        if not car.doors_open:
            return self._door_raws_closed
        return {
            door.signal: door.open_raw if name in car.doors_open else door.closed_raw
            for name, door in self.doors.items()
        }


def _doors(codec: VehicleCodec) -> dict[str, DoorSwitch]:
    """Every door switch of doors_closed, in the profile's order; none when the car has none."""
    doors = codec.profile.inputs.get("doors_closed")
    if not isinstance(doors, CanInput):
        return {}
    switches = {}
    for source in doors.sources:
        message = codec.message(source.message)
        for name in source.signals:
            signal = message.get_signal_by_name(name)
            key = f"signals.doors_closed.{name}"
            switches[name] = DoorSwitch(
                source.message,
                name,
                raw_value(signal, source.values["false"][0], key),
                raw_value(signal, source.values["true"][0], key),
            )
    return switches


def _engine_is_threshold(codec: VehicleCodec) -> bool:
    engine = codec.profile.inputs.get("engine_running")
    return isinstance(engine, CanInput) and engine.threshold is not None


def _rpm_signal(codec: VehicleCodec) -> tuple[str, str] | None:
    """(message, signal) of an engine speed beside engine_running: a signal in rpm of the
    message that carries it, when engine_running is a state of its own (not a threshold on
    the engine speed itself); None when there is no such signal."""
    engine = codec.profile.inputs.get("engine_running")
    if not isinstance(engine, CanInput) or engine.threshold is not None:
        return None
    for signal in codec.message(engine.message).signals:
        if signal.unit == RPM_UNIT and signal.name not in engine.signals:
            return engine.message, signal.name
    return None


def _background(codec: VehicleCodec, unknown_cycle_s: float | None) -> tuple[Background, ...]:
    """The messages of the DBC the profile does not read, each with its start values."""
    read = {broadcast.message for broadcast in codec.broadcasts}
    background = []
    for message, cycle_s in codec.full_broadcast(unknown_cycle_s):
        if message.name in read:
            continue
        frame = MessageFrame(message, codec.profile.protected.get(message.name))
        try:
            data = frame.write(dict(frame.defaults), 0)
        except CanEncodeError:  # multiplexed: no one set of signals encodes it; zeros will do
            data = bytes(message.length)
        background.append(Background(message.name, message.frame_id, cycle_s, data))
    return tuple(background)

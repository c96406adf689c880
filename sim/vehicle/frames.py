"""The car's cyclic status frames, encoded by the profile's own codec (the codec in reverse).

Which doors the car has, and which DBC signal carries the engine speed, come from the profile
and its DBC too, so another car's profile drives the simulator without code.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from firmware_protocol.can import Broadcast, CanInput, VehicleCodec
from firmware_protocol.can.dbc import load_database

from .car import DOORS, Car

RPM_UNIT = "rpm"


class CarFrames:
    """Status frames of the car as the profile maps them; each message counts its own frames
    (the rolling counter of a protected message is that count, modulo its range)."""

    def __init__(self, codec: VehicleCodec) -> None:
        self.codec = codec
        self.broadcasts: tuple[Broadcast, ...] = codec.broadcasts
        doors = codec.profile.inputs["doors_closed"]
        assert isinstance(doors, CanInput), "doors_closed always comes from CAN"
        self._doors_message = doors.message
        # Door names in the profile's signal order; a car with fewer door switches has fewer doors.
        self.door_signals: Mapping[str, str] = dict(zip(DOORS, doors.signals, strict=False))
        self._door_open = doors.values["false"][0]
        self._door_closed = doors.values["true"][0]
        self._rpm_signal = _rpm_signal(codec)
        self.sent = dict.fromkeys((b.message for b in self.broadcasts), 0)

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
        return self.codec.encode_status(
            broadcast.message,
            car.inputs(),
            counter=counter,
            other_signals=self._other_signals(broadcast.message, car, rng),
        )

    def check(self, car: Car, rng: random.Random) -> None:
        """Raise CanEncodeError unless every broadcast can carry the car's state."""
        for broadcast in self.broadcasts:
            self.encode(broadcast, car, rng)

    def _other_signals(self, message: str, car: Car, rng: random.Random) -> dict[str, float | str]:
        signals: dict[str, float | str] = {}
        if message == self._doors_message:
            for door, signal in self.door_signals.items():
                signals[signal] = self._door_open if door in car.doors_open else self._door_closed
        if self._rpm_signal is not None and message == self._rpm_signal[0]:
            signals[self._rpm_signal[1]] = car.rpm(rng)
        return signals


def _rpm_signal(codec: VehicleCodec) -> tuple[str, str] | None:
    """(message, signal) of the engine speed: the signal in rpm of the message that carries
    engine_running; None when the profile has no such signal."""
    engine = codec.profile.inputs["engine_running"]
    if not isinstance(engine, CanInput):
        return None
    message = load_database(codec.profile.dbc).get_message_by_name(engine.message)
    for signal in message.signals:
        if signal.unit == RPM_UNIT:
            return engine.message, signal.name
    return None

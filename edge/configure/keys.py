"""The keys `configure` may change, and which of them wait for the box to be idle.

A key that `waits` changes how a running rental, reservation or parking session is handled
(an actuator's timeout, the charge a reserved bank needs, the broker the renter's commands
come through): it is applied once none runs. The others apply at once. docs/remote-config.md
lists the same table for operators (tests/test_configure_keys.py keeps them equal).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class RemoteKey:
    waits: bool  # applied only while no rental, reservation or session runs
    why: str


REMOTE_KEYS: Final[Mapping[str, RemoteKey]] = {
    "telemetry.interval_s": RemoteKey(False, "how often a snapshot goes out"),
    "log.level": RemoteKey(False, "the lowest level logged"),
    "mqtt.probe_interval_s": RemoteKey(False, "how often the box probes its link"),
    "mqtt.probe_timeout_s": RemoteKey(False, "how long a probe may take"),
    "mqtt.url": RemoteKey(True, "the broker; a rental's commands come through it"),
    "mqtt.ca_file": RemoteKey(True, "the CA the broker's certificate is checked against"),
    "mqtt.cert_file": RemoteKey(True, "the box's client certificate"),
    "mqtt.key_file": RemoteKey(True, "the key of the client certificate"),
    "vehicle.command_timeout_s": RemoteKey(True, "how long the lock and start enable may take"),
    "vehicle.command_retries": RemoteKey(True, "frames re-sent before an actuator is in fault"),
    "cabinet.min_charge_pct": RemoteKey(True, "the charge a bank needs to be rented"),
    "cabinet.take_timeout_s": RemoteKey(True, "how long an ejected bank waits to be taken"),
    "parking.move_timeout_s": RemoteKey(True, "how long the ground lock may take to move"),
}

KIND_SECTIONS: Final = ("vehicle", "cabinet", "parking")

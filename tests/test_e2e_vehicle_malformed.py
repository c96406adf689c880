"""Malformed input never brings the agent down: garbage on `commands` is answered with its code
and nothing changes; junk frames on the CAN bus are dropped and the readings stay right."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from vehicle_rig import DEVICE, TARIFF, VehicleRig, vehicle_rig

from testbed.rig import assert_agent_serving, assert_each_rejected

ORDER = "order-e2e-garbage"
PARKED = {
    "fuel_pct": 62.0,
    "odometer_km": 12345.6,
    "speed_kmh": 0.0,
    "ignition": False,
    "engine_running": False,
    "doors_closed": True,
    "lock": "locked",
    "start_enabled": False,
}


def garbage(rig: VehicleRig) -> list[tuple[str, bytes, str, str | None]]:
    """(what, payload, reply code, the reply's command_id) for a burst of bad commands."""
    backend = rig.backend

    def signed(**changes: Any) -> dict[str, Any]:
        envelope = backend.command(DEVICE, "unlock", {"order_id": ORDER})
        return backend.sign({**envelope, **changes})

    def raw(envelope: dict[str, Any]) -> bytes:
        return json.dumps(envelope).encode()

    args_list, type_number, extra = signed(args=[1]), signed(type=42), signed(force=True)
    stringly = backend.command(
        DEVICE,
        "start_rental",
        {"order_id": ORDER, "renter": "r", "tariff": {**TARIFF, "tank_litres": "50"}},
    )
    not_base64 = {**signed(), "sig": "not base64 at all!"}
    nested_args = json.dumps({**signed(), "args": None}).replace(
        "null", '{"a":' * 5000 + "1" + "}" * 5000
    )
    return [
        ("random bytes", b"\xff" + os.urandom(256), "bad_json", None),
        ("empty", b"", "bad_json", None),
        ("huge", json.dumps({"pad": "x" * 100_000}).encode(), "bad_json", None),
        ("deep list", b"[" * 20_000 + b"]" * 20_000, "bad_json", None),
        ("deep args", nested_args.encode(), "bad_json", None),
        ("NaN", b'{"id": NaN}', "bad_json", None),
        ("duplicate key", b'{"type": "lock", "type": "unlock"}', "bad_json", None),
        ("lone surrogate", b'{"id": "\\ud800"}', "bad_json", None),
        ("a list", b"[1, 2, 3]", "bad_schema", None),
        ("a string", b'"unlock"', "bad_schema", None),
        ("id a number", raw({**signed(), "id": 7}), "bad_schema", None),
        ("args a list", raw(args_list), "bad_schema", args_list["id"]),
        ("type a number", raw(type_number), "bad_schema", type_number["id"]),
        ("unknown field", raw(extra), "bad_schema", extra["id"]),
        ("tank as text", raw(stringly), "bad_schema", stringly["id"]),
        ("sig not base64", raw(not_base64), "bad_signature", not_base64["id"]),
    ]


def test_garbage_commands_are_answered_and_the_agent_serves_on(tmp_path: Path) -> None:
    with vehicle_rig(tmp_path) as rig:
        rig.readings()
        assert_each_rejected(rig, garbage(rig))

        assert_agent_serving(rig)
        assert rig.records() == []
        now = rig.readings()
        assert {k: now[k] for k in PARKED} == PARKED
        assert (now["rental"], now["in_service"]) == ("none", True)
        rig.ok("start_rental", order_id=ORDER, renter="renter-7", tariff=TARIFF)


def test_junk_frames_on_the_bus_are_dropped(tmp_path: Path) -> None:
    with vehicle_rig(tmp_path) as rig:
        rig.readings()
        rig.ok("start_rental", order_id=ORDER, renter="renter-7", tariff=TARIFF)
        rig.sim.send(op="fault", name="bus_noise", on=True, rate_hz=300)
        rig.sim.wait_event("fault", name="bus_noise", on=True)
        since = rig.mark()

        # The box goes on: commands work and the readings follow the car, through the noise.
        unlocked = rig.ok("unlock", order_id=ORDER)
        assert unlocked["result"]["lock"] == "unlocked"
        started = rig.wait_record("rental_started", order_id=ORDER)
        assert (started["fuel_pct"], started["odometer_km"]) == (62.0, 12345.6)
        rig.door(True)
        rig.door(False)
        rig.telemetry(lambda t: True)

        state = rig.sim.state()
        assert sum(state["noise_sent"].values()) > 100
        assert {"foreign_id", "bad_checksum", "wrong_length"} <= state["noise_sent"].keys()
        rig.sim.send(op="fault", name="bus_noise", on=False)
        noisy = rig.on_topic("telemetry", since)
        assert len(noisy) >= 3
        for snapshot in noisy:
            assert (snapshot["fuel_pct"], snapshot["odometer_km"]) == (62.0, 12345.6), snapshot
            assert snapshot["speed_kmh"] == 0.0
            assert snapshot["engine_running"] is False
            assert snapshot["lock"] in ("locked", "unlocked")
            assert snapshot["doors_closed"] in (True, False)
        # The lock states shown are the car's, in the car's order.
        shown = [t["lock"] for t in noisy]
        assert shown == sorted(shown, key=["locked", "unlocked"].index)

        ended = rig.ok("end_rental", order_id=ORDER)["result"]
        assert ended["distance_km"] == 0.0
        assert ended["charges"]["fuel_cents"] == 0
        assert_agent_serving(rig)

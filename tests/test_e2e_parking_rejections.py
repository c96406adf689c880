"""Parking commands the state forbids (`not_allowed`), commands while the arm moves (`busy`),
and malformed commands: each gets its reply code, nothing reaches the board, no record is
written, and the agent serves on."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from parking_rig import (
    DEVICE,
    ParkingRig,
    assert_sessions_sound,
    parking_rig,
)

from testbed.rig import assert_agent_serving, assert_each_rejected

ORDER = "order-park-rej"
OTHER = "order-park-other"


def test_commands_the_state_forbids_are_not_allowed(tmp_path: Path) -> None:
    with parking_rig(tmp_path) as rig:
        rig.lock_shows("raised")
        nobody = rig.refused("raise", "not_allowed", order_id=ORDER)
        assert nobody["detail"] == "no order holds the space"
        assert rig.moves() == 0

        rig.park(ORDER)
        for order in (OTHER, ORDER):  # another order, or the same one again
            twice = rig.refused("lower", "not_allowed", order_id=order)
            assert twice["detail"] == f"order {ORDER} holds the space"
        wrong = rig.refused("raise", "not_allowed", order_id=OTHER)
        assert wrong["detail"] == f"order mismatch: order {ORDER} holds the space"

        # Nothing of it reached the board or the records; the parking goes on.
        assert rig.moves() == 1
        assert [r["type"] for r in rig.records()] == ["parking_started"]
        assert rig.lock_shows("lowered")["order_id"] == ORDER
        rig.ok("raise", order_id=ORDER)
        assert rig.moves() == 2
        assert len(assert_sessions_sound(rig.records())) == 1
        assert_agent_serving(rig)


def sent_together(rig: ParkingRig, first: str, second: str) -> tuple[dict[str, Any], ...]:
    """Two commands published back to back, without waiting; both replies."""
    envelopes = [rig.envelope(first, order_id=ORDER), rig.envelope(second, order_id=ORDER)]
    for envelope in envelopes:
        rig.send(envelope)
    return tuple(rig.reply_to(envelope["id"]) for envelope in envelopes)


def test_a_command_while_the_arm_moves_is_busy(tmp_path: Path) -> None:
    with parking_rig(tmp_path) as rig:
        rig.lock_shows("raised")
        lowered, busy = sent_together(rig, "lower", "raise")
        assert lowered["status"] == "ok"
        assert (busy["status"], busy["code"], busy["detail"]) == (
            "rejected",
            "busy",
            "the ground lock is moving",
        )
        assert rig.moves() == 1
        rig.lock_shows("lowered", order_id=ORDER)

        raised, busy_again = sent_together(rig, "raise", "raise")
        assert raised["status"] == "ok"
        assert (busy_again["status"], busy_again["code"]) == ("rejected", "busy")
        assert raised["result"]["type"] == "parking_ended"

        assert rig.moves() == 2
        assert [e["event"] for e in rig.sim_lines() if e["event"] in ("raise", "lower")] == [
            "lower",
            "raise",
        ]
        records = rig.records()
        assert [r["type"] for r in records] == ["parking_started", "parking_ended"]
        assert len(assert_sessions_sound(records)) == 1
        assert_agent_serving(rig)


def malformed(rig: ParkingRig) -> list[tuple[str, bytes, str, str | None]]:
    """(what, payload, reply code, the reply's command_id) for a burst of bad commands."""
    backend = rig.backend

    def raw(envelope: dict[str, Any]) -> bytes:
        return json.dumps(envelope).encode()

    unlock = backend.command(DEVICE, "unlock", {"order_id": ORDER})
    reserve = backend.command(
        DEVICE, "reserve", {"reservation_id": "r1", "purpose": "rent", "count": 1, "ttl_s": 60}
    )
    no_order = backend.command(DEVICE, "lower", {})
    extra = backend.command(DEVICE, "lower", {"order_id": ORDER, "force": True})
    order_number = backend.command(DEVICE, "lower", {"order_id": 7})
    elsewhere = backend.command("park-other", "lower", {"order_id": ORDER})
    tampered = backend.command(DEVICE, "lower", {"order_id": ORDER})
    tampered["args"]["order_id"] = OTHER
    return [
        ("random bytes", b"\xff" + os.urandom(200), "bad_json", None),
        ("empty", b"", "bad_json", None),
        ("cut short", b'{"id": "2f1d0c3e-5b7a-4c1e-9f00-000000000001", "type": ', "bad_json", None),
        ("a list", b"[1, 2, 3]", "bad_schema", None),
        ("a vehicle command", raw(unlock), "bad_schema", unlock["id"]),
        ("a cabinet command", raw(reserve), "bad_schema", reserve["id"]),
        ("lower without order_id", raw(no_order), "bad_schema", no_order["id"]),
        ("lower with an unknown arg", raw(extra), "bad_schema", extra["id"]),
        ("order_id a number", raw(order_number), "bad_schema", order_number["id"]),
        ("another device", raw(elsewhere), "wrong_device", elsewhere["id"]),
        ("args changed after signing", raw(tampered), "bad_signature", tampered["id"]),
    ]


def test_malformed_commands_get_their_codes_and_the_agent_serves_on(tmp_path: Path) -> None:
    with parking_rig(tmp_path) as rig:
        rig.lock_shows("raised")
        burst = malformed(rig)
        assert_each_rejected(rig, burst)
        vehicle = rig.replies(burst[4][3])[0]
        assert "vehicle command" in vehicle["detail"], vehicle

        assert rig.moves() == 0
        assert rig.records() == []
        assert rig.lock_shows("raised")["order_id"] is None
        assert_agent_serving(rig)
        rig.park(ORDER)
        rig.ok("raise", order_id=ORDER)
        assert len(assert_sessions_sound(rig.records())) == 1

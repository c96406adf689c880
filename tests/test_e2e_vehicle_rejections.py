"""Every rejection code of contract section 3, end to end, and nothing changes on the box: the
telemetry and the car stay as they were, no record is written, no frame goes to the car."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from vehicle_rig import DEVICE, TARIFF, VehicleRig, vehicle_rig

from sim.backend import Backend

ORDER = "order-e2e-rej"
STATE_FIELDS = (
    "lock",
    "start_enabled",
    "rental",
    "in_service",
    "fuel_pct",
    "odometer_km",
    "doors_closed",
    "engine_running",
)


def rejected(rig: VehicleRig, envelope: dict[str, Any], code: str) -> dict[str, Any]:
    rig.send(envelope)
    reply = rig.reply_to(envelope["id"])
    assert (reply["status"], reply["code"]) == ("rejected", code), reply
    assert reply["result"] is None
    return reply


def unchanged(rig: VehicleRig, before: dict[str, Any]) -> None:
    now = rig.readings()
    assert {k: now[k] for k in STATE_FIELDS} == {k: before[k] for k in STATE_FIELDS}
    assert rig.records() == []
    frames = [e for e in rig.sim_lines() if e.get("event") in ("command", "lock", "start_enable")]
    assert frames == []


def test_every_rejection_leaves_the_box_as_it_was(tmp_path: Path) -> None:
    with vehicle_rig(tmp_path) as rig:
        backend = rig.backend
        parked = rig.readings()
        assert (parked["rental"], parked["in_service"]) == ("none", True)

        # bad_json: no id can be read, so the reply's command_id is null.
        rig.send(b"\xff\xfe not json at all")
        rig.send(b'{"id": "2f1d0c3e-5b7a-4c1e-9f00-000000000001", "type": ')
        bad_json = rig.wait_replies(None, 2)
        assert [(r["status"], r["code"]) for r in bad_json] == [("rejected", "bad_json")] * 2
        assert "UTF-8" in bad_json[0]["detail"]

        # bad_schema: a missing field, an unknown type, a cabinet command.
        missing = backend.command(DEVICE, "unlock", {"order_id": ORDER})
        del missing["expires_at"]
        assert "expires_at" in rejected(rig, missing, "bad_schema")["detail"]
        rejected(rig, backend.command(DEVICE, "self_destruct", {}), "bad_schema")
        cabinet = backend.command(
            DEVICE, "reserve", {"reservation_id": "r1", "purpose": "rent", "count": 1, "ttl_s": 60}
        )
        assert "cabinet" in rejected(rig, cabinet, "bad_schema")["detail"]
        loose = backend.command(DEVICE, "unlock", {"order_id": ORDER, "force": True})
        rejected(rig, loose, "bad_schema")

        # wrong_device, and it is checked before the signature.
        rejected(rig, backend.command("car-other", "unlock", {"order_id": ORDER}), "wrong_device")
        unsigned_elsewhere = backend.command("car-other", "unlock", {"order_id": ORDER})
        unsigned_elsewhere["sig"] = unsigned_elsewhere["sig"][::-1]
        rejected(rig, unsigned_elsewhere, "wrong_device")

        # bad_signature: args changed after signing; then a signature from another key.
        tampered = backend.command(DEVICE, "set_service", {"in_service": False, "reason": "x"})
        tampered["args"]["in_service"] = True
        rejected(rig, tampered, "bad_signature")
        rejected(
            rig,
            Backend().command(DEVICE, "set_service", {"in_service": False, "reason": "x"}),
            "bad_signature",
        )

        # expired: past expires_at + clock_skew_s; valid for longer than max_ttl_s.
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        old = backend.command(
            DEVICE,
            "set_service",
            {"in_service": False, "reason": "x"},
            issued_at=an_hour_ago,
            expires_in_s=60,
        )
        rejected(rig, old, "expired")
        too_long = backend.command(
            DEVICE, "set_service", {"in_service": False, "reason": "x"}, expires_in_s=86_400 + 3600
        )
        assert "max_ttl_s" in rejected(rig, too_long, "expired")["detail"]

        # replayed: the same envelope twice (an idempotent one: in service already).
        again = backend.command(DEVICE, "set_service", {"in_service": True, "reason": ""})
        rig.send(again)
        assert rig.reply_to(again["id"])["status"] == "ok"
        rig.send(again)
        second = rig.wait_replies(again["id"], 2)[1]
        assert (second["status"], second["code"]) == ("rejected", "replayed")
        unchanged(rig, parked)

        # not_allowed: out of service, no new rental.
        rig.ok("set_service", in_service=False, reason="tyre change")
        out = rig.command("start_rental", order_id=ORDER, renter="r", tariff=TARIFF)
        assert (out["status"], out["code"]) == ("rejected", "not_allowed")
        assert "out of service" in out["detail"]
        assert "tyre change" in out["detail"]
        assert rig.telemetry(lambda t: True)["rental"] == "none"
        rig.ok("set_service", in_service=True, reason="")

        # not_allowed: a booked car: the wrong order, a second booking.
        rig.ok("start_rental", order_id=ORDER, renter="renter-7", tariff=TARIFF)
        booked = rig.telemetry(lambda t: t["rental"] == "booked")
        wrong = rig.command("unlock", order_id="order-someone-else")
        assert (wrong["status"], wrong["code"]) == ("rejected", "not_allowed")
        assert "order" in wrong["detail"]
        twice = rig.command("start_rental", order_id="order-2", renter="r", tariff=TARIFF)
        assert (twice["status"], twice["code"]) == ("rejected", "not_allowed")
        assert "booked" in twice["detail"]
        unchanged(rig, booked)

        # busy: a second lock operation while the first is in flight (both sent at once).
        unlock = backend.command(DEVICE, "unlock", {"order_id": ORDER})
        lock = backend.command(DEVICE, "lock", {"order_id": ORDER})
        rig.send(unlock)
        rig.send(lock)
        busy = rig.reply_to(lock["id"])
        assert (busy["status"], busy["code"]) == ("rejected", "busy")
        assert rig.reply_to(unlock["id"])["status"] == "ok"
        # Only the unlock reached the car; the refused lock changed nothing.
        state = rig.sim.state()
        assert (state["lock"], state["start_enabled"]) == ("unlocked", True)
        commands = [e["name"] for e in rig.sim_lines() if e.get("event") == "command"]
        assert commands == ["unlock", "start_enable"]
        after = rig.telemetry(lambda t: t["start_enabled"] is True)
        assert (after["lock"], after["rental"]) == ("unlocked", "active")
        assert [r["type"] for r in rig.records()] == ["rental_started"]

        # Every reply so far has the reply shape of contract section 2.
        for reply in rig.on_topic("replies"):
            assert set(reply) == {"command_id", "status", "code", "detail", "result"}
            json.dumps(reply)

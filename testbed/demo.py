"""The demo: one whole rental on a simulated car, then a power-bank rental and return on a
simulated cabinet, each through a private broker, signed commands and the real agent.
`scripts/demo` runs it; it exits 0 and leaves no process behind."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from testbed.rig import BoxRig

TARIFF = {
    "per_minute_cents": 25,
    "fuel_price_cents_per_litre": 189,
    "tank_litres": 50,
    "currency": "EUR",
}
ORDER = "order-2026-0042"
PAGE_PASSWORD = "demo-page-password"  # `scripts/demo --page`: the installer's page's password
_started = time.monotonic()


def say(text: str) -> None:
    print(f"[{time.monotonic() - _started:6.1f}s] {text}", flush=True)


def expect_ok(reply: dict[str, Any], what: str) -> dict[str, Any]:
    if reply["status"] != "ok":
        raise SystemExit(f"demo failed: {what} -> {reply}")
    say(f"    reply: ok{'' if reply.get('result') is None else ' (result attached)'}")
    return reply


def page_settings(page: bool) -> dict[str, dict[str, Any]]:
    """The [diagnostics] section of `scripts/demo --page`: the page on a free loopback port."""
    if not page:
        return {}
    from edge.diagnostics.password import hash_password

    password_hash = hash_password(PAGE_PASSWORD)
    return {"diagnostics": {"enabled": True, "port": 0, "password_hash": password_hash}}


def show_page(rig: BoxRig, page: bool, what: str) -> None:
    """With --page: where the installer's page is, and a pause to open it before `what`."""
    if not page or rig.agent is None:
        return
    url = rig.agent.wait_logged("diagnostics.listening", timeout=15)["url"]
    say(f"installer's page: {url}  password: {PAGE_PASSWORD}")
    input(f"    open it, log in, then press Enter to {what} ")


def vehicle_rental(workdir: Path, page: bool = False) -> None:
    say("starting a private mosquitto, the car simulator (CAN over SLCAN on a pty) and the agent")
    with BoxRig(
        workdir / "vehicle", "vehicle", device_id="car-0001", box_settings=page_settings(page)
    ) as rig:
        rig.start_agent()
        say(f"agent ready: car-0001 on {rig.sim.connect['channel']}, broker {rig.broker.url}")
        show_page(rig, page, "walk the rental")
        first = rig.telemetry(lambda t: t["fuel_pct"] is not None and t["odometer_km"] is not None)
        say(
            f"    telemetry: lock {first['lock']}, fuel {first['fuel_pct']} %, "
            f"odometer {first['odometer_km']} km"
        )

        say(f"cloud -> start_rental {ORDER}, tariff {json.dumps(TARIFF)}")
        expect_ok(
            rig.command("start_rental", order_id=ORDER, renter="renter-7", tariff=TARIFF),
            "start_rental",
        )

        say("cloud -> unlock (the renter opens the car: the rental clock starts)")
        expect_ok(rig.command("unlock", order_id=ORDER), "unlock")
        started = rig.wait_record("rental_started", order_id=ORDER)
        say(
            f"    record rental_started seq {started['seq']}: fuel {started['fuel_pct']} %, "
            f"odometer {started['odometer_km']} km, check {json.dumps(started['check'])}"
        )

        say("car: engine on, drive 12 km using 9.6 % of the tank")
        rig.sim.send(op="engine", running=True)
        rig.telemetry(lambda t: t["engine_running"] is True)
        rig.sim.send(op="drive", km=12, fuel_pct_used=9.6, seconds=4)
        moving = rig.telemetry(lambda t: (t["speed_kmh"] or 0) > 0)
        say(f"    telemetry while driving (time-lapse): {moving['speed_kmh']} km/h")
        rig.sim.wait_event("drive", timeout=30, done=True)
        rig.sim.send(op="engine", running=False)
        # A time-lapse drive is faster than any car: the box drops the odometer's jump as
        # implausible until five readings in a row agree (edge/can/signals.py), then trusts it.
        parked = rig.telemetry(
            lambda t: t["engine_running"] is False and t["odometer_km"] is not None, timeout=30
        )
        say(f"    parked: odometer {parked['odometer_km']} km, fuel {parked['fuel_pct']} %")

        say("cloud -> lock (a stop on the way)")
        expect_ok(rig.command("lock", order_id=ORDER), "lock")
        say("cloud -> unlock")
        expect_ok(rig.command("unlock", order_id=ORDER), "unlock")

        say("cloud -> end_rental")
        reply = expect_ok(rig.command("end_rental", order_id=ORDER), "end_rental")
        say("final rental_ended record:")
        print(json.dumps(reply["result"], indent=2), flush=True)
        charges = reply["result"]["charges"]
        say(
            f"charges: time {charges['time_cents']} + fuel {charges['fuel_cents']} = "
            f"{charges['total_cents']} {charges['currency']} cents"
        )
        if page:
            input("    press Enter to stop the car and go on to the cabinet ")
        say("stopping everything")


def cabinet_rental(workdir: Path, page: bool = False) -> None:
    order, reservation = "order-2026-0043", "res-2026-0043"
    say(
        "starting a private mosquitto, the cabinet simulator (3 slot boards of 16 slots on one "
        "serial line, a pty) and the agent"
    )
    with BoxRig(
        workdir / "cabinet",
        "cabinet",
        device_id="cab-0042",
        box_settings={"cabinet": {"boards": [1, 2, 3]}, **page_settings(page)},
    ) as rig:
        rig.start_agent()
        say(f"agent ready: cab-0042 on {rig.sim.connect['port']}, broker {rig.broker.url}")
        show_page(rig, page, "rent and return banks")
        first = rig.telemetry(lambda t: all(s["state"] != "unknown" for s in t["slots"]))
        stock = [s for s in first["slots"] if s["bank_id"] is not None]
        say(
            f"    telemetry: {len(first['slots'])} slots, {len(stock)} banks, "
            f"{sum(s['state'] == 'empty' for s in first['slots'])} empty"
        )

        say(f"cloud -> reserve 2 banks for rent ({reservation}, ttl 120 s)")
        held = expect_ok(
            rig.command("reserve", reservation_id=reservation, purpose="rent", count=2, ttl_s=120),
            "reserve",
        )
        slots = held["result"]["slots"]
        by_slot = {s["slot"]: s for s in first["slots"]}
        say(
            "    reserved slots "
            + ", ".join(
                f"{n} ({by_slot[n]['bank_id']} at {by_slot[n]['charge_pct']} %)" for n in slots
            )
        )

        say(f"cloud -> rent {order} by reservation {reservation}")
        expect_ok(rig.command("rent", order_id=order, reservation_id=reservation), "rent")
        for slot in slots:
            eject = rig.sim.wait_event("eject", slot=slot)
            say(
                f"    cabinet: slot {slot} (board {eject['board']} slot {eject['board_slot']}) "
                f"ejected bank {eject['bank_id']}"
            )

        say("renter: takes both banks")
        for slot in slots:
            rig.sim.send(op="take", slot=slot)
            rig.sim.wait_event("taken", slot=slot)
        outs = [rig.wait_record("bank_out", slot=slot) for slot in slots]
        for out in outs:
            say(f"    record bank_out seq {out['seq']}:")
            print(json.dumps(out, indent=2), flush=True)

        returned = outs[0]
        into = next(s["slot"] for s in first["slots"] if s["state"] == "empty")
        say(f"renter: returns {returned['bank_id']} into slot {into} (another, empty slot)")
        rig.sim.send(
            op="insert",
            slot=into,
            bank_id=returned["bank_id"],
            charge_pct=max(0, returned["charge_pct"] - 35),
        )
        back = rig.wait_record("bank_in", slot=into)
        say(f"    record bank_in seq {back['seq']}:")
        print(json.dumps(back, indent=2), flush=True)
        if page:
            input("    press Enter to stop the cabinet ")
        say("stopping everything")


def main() -> int:
    # --page: the installer's page on each box, with a pause to open it (docs/diagnostics.md)
    page = "--page" in sys.argv[1:]
    with tempfile.TemporaryDirectory(prefix="fleet-edge-demo-") as tmp:
        vehicle_rental(Path(tmp), page)
        cabinet_rental(Path(tmp), page)
    say("demo done")
    return 0


if __name__ == "__main__":
    sys.exit(main())

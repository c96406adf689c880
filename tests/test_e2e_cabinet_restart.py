"""The cabinet agent killed and started again on the same store: nothing is ejected twice, a bank
taken or returned meanwhile is recorded once, a reservation that ran out meanwhile is released.
"""

from __future__ import annotations

import time
from pathlib import Path

from cabinet_rig import (
    DEVICE,
    CabinetRig,
    assert_ejects_as_asked,
    cabinet_rig,
    empty,
    rentable,
)

from testbed.rig import assert_agent_serving, assert_records_sound

# A latch that takes 300 ms to open: the agent is killed after the board took the eject and
# before anyone could see the latch open.
SLOW_LATCH = ("--charge-step-s", "0", "--latch-ms", "300")
TTL_S = 2


def killed_after_the_eject(rig: CabinetRig, order_id: str) -> tuple[str, int]:
    """Rent one bank and SIGKILL the agent as soon as the board carried out the eject."""
    slot = rentable(rig.slots())[0]
    command_id = rig.send_command("rent", order_id=order_id, count=1)
    rig.sim.wait_event("eject", slot=slot)
    rig.kill_agent()
    return command_id, slot


def test_sigkill_mid_eject_neither_ejects_twice_nor_loses_the_bank(tmp_path: Path) -> None:
    with cabinet_rig(tmp_path, sim_args=SLOW_LATCH) as rig:
        before = rig.slots()
        command_id, slot = killed_after_the_eject(rig, "order-k1")
        rig.start_agent()
        # The new agent does not eject again; it finds the latch open and owes the reply.
        reply = rig.reply_to(command_id)
        assert (reply["status"], reply["result"]["ejected"]) == ("ok", [slot]), reply
        rig.take(slot)
        out = rig.wait_record("bank_out", slot=slot)
        assert (out["order_id"], out["bank_id"]) == ("order-k1", before[slot]["bank_id"])
        assert out["observed_after_restart"] is False
        assert out["ejected_at"] <= out["taken_at"]

        # Taken while the agent is down: recorded after the restart, once, as observed.
        command_id, other = killed_after_the_eject(rig, "order-k2")
        rig.sim.wait_event("unlocked", slot=other)
        rig.take(other)
        rig.start_agent()
        late = rig.wait_record("bank_out", slot=other)
        assert (late["order_id"], late["bank_id"]) == ("order-k2", before[other]["bank_id"])
        assert (late["observed_after_restart"], late["taken_at"]) == (True, None)
        assert rig.reply_to(command_id)["result"]["ejected"] == [other]

        rig.restart_agent()  # and once more: nothing new is written or ejected
        rig.slots(lambda s: s[slot]["state"] == s[other]["state"] == "empty")
        outs = rig.records_of("bank_out")
        assert sorted((r["order_id"], r["slot"]) for r in outs) == [
            ("order-k1", slot),
            ("order-k2", other),
        ]
        ejects = rig.sim.state()["counters"]["ejects"]
        assert {int(n): count for n, count in ejects.items()} == {slot: 1, other: 1}
        assert len(rig.agent_lines("cabinet.eject_sent")) == 2
        assert_ejects_as_asked(rig)
        assert_records_sound(rig.records(), DEVICE)
        assert_agent_serving(rig)
        assert rig.agent.stop() == 0  # SIGTERM: it finishes and exits 0


def test_what_happened_while_the_agent_was_down(tmp_path: Path) -> None:
    with cabinet_rig(tmp_path) as rig:
        slots = rig.slots()
        free = empty(slots)
        since = rig.mark()
        held = rig.ok("reserve", reservation_id="r-down", purpose="rent", count=2, ttl_s=TTL_S)
        held_slots = held["result"]["slots"]
        rig.kill_agent()
        rig.insert(free[0], "RT000009", 42)
        rig.sim.send(op="remove", slot=rentable(slots)[2])
        rig.sim.wait_event("removed")
        time.sleep(TTL_S + 0.2)  # down for longer than the reservation's ttl
        rig.start_agent()
        expired = rig.wait_event("reservation_expired", since, reservation_id="r-down")
        assert expired["slots"] == held_slots
        back = rig.wait_record("bank_in", slot=free[0])
        assert (back["bank_id"], back["charge_pct"]) == ("RT000009", 42)
        assert (back["observed_after_restart"], back["returned_at"]) == (True, None)
        removed = rig.wait_event("forced_removal", since, slot=rentable(slots)[2])
        assert removed["bank_id"] == slots[rentable(slots)[2]]["bank_id"]
        shown = rig.slots(lambda s: s[free[0]]["state"] == "occupied")
        assert [shown[n]["state"] for n in held_slots] == ["occupied", "occupied"]
        rig.refused("rent", "not_allowed", order_id="order-x", reservation_id="r-down")
        assert_records_sound(rig.records(), DEVICE)
        assert_agent_serving(rig)

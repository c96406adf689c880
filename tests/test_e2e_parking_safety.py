"""The ground lock is never raised over a car: a raise is refused while the sensor sees one
(and never reaches the board), a car arriving over a rising arm sends it down and refuses the
raise, and a seeded run of cars and commands never shows the arm going up over a car."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from parking_rig import (
    ParkingRig,
    assert_never_raised_over_a_car,
    assert_sessions_sound,
    parking_rig,
)

from testbed.rig import assert_agent_serving

ORDER = "order-park-car"
STEPS = 20
SEED = 20261123


def test_a_raise_is_refused_while_a_car_stands_over_the_lock(tmp_path: Path) -> None:
    with parking_rig(tmp_path) as rig:
        rig.lock_shows("raised")
        rig.park(ORDER)
        rig.car(True)
        rig.lock_shows("lowered", occupied=True)
        since = len(rig.sim.raw)

        refused = rig.refused("raise", "not_allowed", order_id=ORDER)
        assert refused["detail"] == "a car is over the lock"
        # Not even tried: the board never saw a RAISE, the motor never started.
        assert rig.moves() == 1
        assert rig.sim_lines("raise", since) == []
        assert rig.sim_lines("nak", since) == []
        still = rig.lock_shows("lowered", occupied=True)
        assert still["order_id"] == ORDER
        assert [r["type"] for r in rig.records()] == ["parking_started"]

        rig.car(False)
        rig.lock_shows("lowered", occupied=False)
        ended = rig.ok("raise", order_id=ORDER)["result"]
        assert ended["type"] == "parking_ended"
        assert rig.moves() == 2
        assert len(assert_sessions_sound(rig.records())) == 1
        assert_never_raised_over_a_car(rig.sim_lines())
        assert_agent_serving(rig)


def test_a_car_arriving_over_a_rising_arm_sends_it_down(tmp_path: Path) -> None:
    with parking_rig(tmp_path) as rig:
        rig.lock_shows("raised")
        rig.park(ORDER)
        since = len(rig.sim.raw)
        raise_ = rig.envelope("raise", order_id=ORDER)
        rig.send(raise_)
        rig.wait_sim("moving", since, target="raised")
        rig.car(True)

        reply = rig.reply_to(raise_["id"])
        assert (reply["status"], reply["code"]) == ("rejected", "not_allowed"), reply
        assert "came over the lock" in reply["detail"]
        rig.wait_sim("position", since, position="lowered")
        assert rig.sim_lines("stalled", since)[0]["target"] == "raised"
        # The parking goes on; the arm is down under the car. The board stalled the arm
        # (MOTOR_STALL): the lock shows fault until a move succeeds, unless the box's own
        # LOWER caught the arm on its way back and finished that move.
        parked = rig.telemetry(lambda t: t["occupied"] is True and t["lock"] != "moving")
        assert (parked["lock"], parked["order_id"]) in (("fault", ORDER), ("lowered", ORDER))
        assert rig.sim.state()["position"] == "lowered"
        assert [r["type"] for r in rig.records()] == ["parking_started"]

        rig.car(False)
        rig.telemetry(lambda t: t["occupied"] is False)
        ended = rig.ok("raise", order_id=ORDER)["result"]
        assert ended["type"] == "parking_ended"
        assert rig.lock_shows("raised")["order_id"] is None
        assert len(assert_sessions_sound(rig.records())) == 1
        assert_never_raised_over_a_car(rig.sim_lines())
        assert_agent_serving(rig)


@dataclass
class Space:
    """What the test knows of the parking space: the order holding it and the car over it."""

    order: str | None = None
    car: bool = False
    orders: int = 0
    sessions: int = 0

    def shown_settled(self, telemetry: dict[str, Any]) -> bool:
        """Whether a snapshot shows this space with the arm at rest."""
        return (
            telemetry["occupied"] is self.car
            and telemetry["order_id"] == self.order
            and telemetry["lock"] != "moving"
        )


def step(rig: ParkingRig, space: Space, action: str) -> None:
    """One action, with the outcome the box must give for it."""
    if action == "car_comes":
        rig.car(True)
        space.car = True
    elif action == "car_leaves":
        rig.car(False)
        space.car = False
    elif action == "lower":
        space.orders += 1
        order = f"order-rand-{space.orders}"
        if space.order is None:
            rig.park(order)
            space.order = order
        else:
            rig.refused("lower", "not_allowed", order_id=order)
    elif action == "raise":
        if space.order is None:
            rig.refused("raise", "not_allowed", order_id="order-rand-none")
        elif space.car:
            rig.refused("raise", "not_allowed", order_id=space.order)
        else:
            assert rig.ok("raise", order_id=space.order)["result"]["order_id"] == space.order
            space.order = None
            space.sessions += 1
    elif action == "car_comes_while_rising":
        assert space.order is not None
        assert not space.car
        since = len(rig.sim.raw)
        envelope = rig.envelope("raise", order_id=space.order)
        rig.send(envelope)
        rig.wait_sim("moving", since, target="raised")
        rig.car(True)
        space.car = True
        reply = rig.reply_to(envelope["id"])
        assert (reply["status"], reply["code"]) == ("rejected", "not_allowed"), reply
        rig.wait_sim("position", since, position="lowered")
    else:
        raise AssertionError(action)


def choose(rng: random.Random, space: Space) -> str:
    """A random next action; cars come only over a lowered arm (a raised one bars them)."""
    actions = ["lower", "raise", "raise"]
    if space.order is not None:
        actions += ["car_leaves"] if space.car else ["car_comes", "car_comes_while_rising"]
    return rng.choice(actions)


def test_a_random_run_never_raises_the_lock_over_a_car(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    space = Space()
    with parking_rig(tmp_path) as rig:
        rig.lock_shows("raised")
        done = []
        for _ in range(STEPS):
            action = choose(rng, space)
            step(rig, space, action)
            done.append(action)
            rig.telemetry(space.shown_settled)
        assert {"car_comes", "car_comes_while_rising", "raise", "lower"} <= set(done), done

        assert_never_raised_over_a_car(rig.sim_lines())
        # Every RAISE that reached the board found the space clear: none refused OCCUPIED.
        assert [e for e in rig.sim_lines("nak") if e["code"] == "OCCUPIED"] == []
        records = rig.records()
        sessions = assert_sessions_sound(records)
        assert len(sessions) == space.sessions
        assert len(records) == 2 * space.sessions + (space.order is not None)
        assert_agent_serving(rig)

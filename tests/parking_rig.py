"""The parking box end to end, for the tests: the agent and `edge-sim parking` as processes, the
slot-board line on a pty, a private mosquitto and the signing backend (testbed/rig.py), plus the
helpers and invariants the parking end-to-end tests share."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from vehicle_rig import seconds_between

from testbed.processes import JsonLine
from testbed.rig import BoxRig, assert_records_sound, closed_after

DEVICE = "park-e2e"
MOVE_MS = 300  # the arm's travel end to end: a lower or raise replies in about half a second
MOVE_TIMEOUT_S = 2.0  # parking.move_timeout_s: a move that never ends fails within seconds
TELEMETRY_S = 0.5


class ParkingRig(BoxRig):
    """A BoxRig for a parking space that closes what it started even when starting fails."""

    def __init__(
        self,
        workdir: Path,
        *,
        sim_args: tuple[str, ...] = (),
        parking: dict[str, Any] | None = None,
        sections: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        try:
            super().__init__(
                workdir,
                "parking",
                device_id=DEVICE,
                sim_args=("--move-ms", str(MOVE_MS), *sim_args),
                box_settings={
                    "parking": {"move_timeout_s": MOVE_TIMEOUT_S, **(parking or {})},
                    "telemetry": {"interval_s": TELEMETRY_S},
                    **(sections or {}),
                },
            )
            self.start_agent()
        except BaseException:
            self.close()
            raise

    # --- commands -------------------------------------------------------------------

    def envelope(self, command_type: str, **args: Any) -> dict[str, Any]:
        return self.backend.command(DEVICE, command_type, args)

    def park(self, order_id: str) -> dict[str, Any]:
        """lower, ok once the arm is down; the parking_started record."""
        reply = self.ok("lower", order_id=order_id)
        assert reply["result"] == {"order_id": order_id, "lock": "lowered"}
        return self.wait_record("parking_started", order_id=order_id)

    # --- the ground lock ------------------------------------------------------------

    def lock_shows(self, lock: str, timeout: float = 15.0, **fields: Any) -> dict[str, Any]:
        """The first telemetry from now on with `lock` (and `fields`)."""
        return self.telemetry(
            lambda t: t["lock"] == lock and all(t.get(k) == v for k, v in fields.items()),
            timeout,
        )

    def car(self, present: bool) -> None:
        """A car arrives or leaves; returns once the board's sensor has it."""
        since = len(self.sim.raw)
        self.sim.send(op="car", present=present)
        self.wait_sim("car", since, present=present)

    def moves(self) -> int:
        """RAISE and LOWER requests that started the motor, by the board's own count."""
        count: int = self.sim.state()["counters"]["moves"]
        return count


def parking_rig(workdir: Path, **options: Any) -> contextlib.AbstractContextManager[ParkingRig]:
    """A ParkingRig, closed afterwards; fails if a process it started is still running."""
    return closed_after(ParkingRig(workdir, **options))


# --- invariants -----------------------------------------------------------------------


def assert_sessions_sound(records: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Records pair up: parking_started then parking_ended of the same order, each once, the
    end carrying the start's time and a whole-second duration that agrees with the clock.
    The (order_id, duration_s) of every finished session."""
    assert_records_sound(records, DEVICE, also=("order_id",))
    sessions: list[tuple[str, int]] = []
    for started, ended in zip(records[::2], records[1::2], strict=False):
        assert (started["type"], ended["type"]) == ("parking_started", "parking_ended"), records
        assert started["order_id"] == ended["order_id"]
        assert ended["started_at"] == started["ts"]
        assert ended["ended_at"] == ended["ts"]
        assert isinstance(ended["duration_s"], int)
        wall = seconds_between(ended["started_at"], ended["ended_at"])
        # Whole seconds of the monotonic clock, floored: within a second of the wall clock.
        assert wall - 1.1 <= ended["duration_s"] <= wall + 0.1, (ended, wall)
        sessions.append((ended["order_id"], ended["duration_s"]))
    if len(records) % 2:
        assert records[-1]["type"] == "parking_started", records
    return sessions


def assert_never_raised_over_a_car(sim_lines: list[JsonLine], car_at_start: bool = False) -> None:
    """From the board's own account, in order: no RAISE started the motor, no arm set off
    upwards and no arm reached raised while a car stood over the lock."""
    car = car_at_start
    for line in sim_lines:
        event = line.get("event")
        if event == "car":
            car = line["present"]
        elif event == "raise":
            assert not car, f"a RAISE started the motor over a car: {line}"
        elif event == "moving" and line["target"] == "raised":
            assert not car, f"the arm set off upwards over a car: {line}"
        elif event == "position" and line["position"] == "raised":
            assert not car, f"the arm reached raised over a car: {line}"

"""The parking box end to end, for the tests: the agent and `edge-sim parking` as processes, the
slot-board line on a pty, a private mosquitto and the signing backend (testbed/rig.py), plus the
helpers and invariants the parking end-to-end tests share."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

from vehicle_rig import seconds_between

from testbed.processes import Event
from testbed.rig import BoxRig, closed_after

DEVICE = "park-e2e"
MOVE_MS = 300  # the arm's travel end to end: a lower or raise replies in about half a second
MOVE_TIMEOUT_S = 2.0  # parking.move_timeout_s: a move that never ends fails within seconds
TELEMETRY_S = 0.5
SIM_POLL_S = 0.01


class ParkingRig(BoxRig):
    """A BoxRig for a parking space that closes what it started even when starting fails."""

    def __init__(
        self,
        workdir: Path,
        *,
        sim_args: tuple[str, ...] = (),
        parking: dict[str, Any] | None = None,
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
                },
            )
            self.start_agent()
        except BaseException:
            self.close()
            raise

    # --- commands -------------------------------------------------------------------

    def envelope(self, command_type: str, **args: Any) -> dict[str, Any]:
        return self.backend.command(DEVICE, command_type, args)

    def refused(self, command_type: str, code: str, **args: Any) -> dict[str, Any]:
        """Send a command that must be rejected with `code`; its reply."""
        reply = self.command(command_type, **args)
        assert (reply["status"], reply["code"]) == ("rejected", code), (command_type, reply)
        assert reply["result"] is None
        return reply

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

    def fault(self, name: str, on: bool, **options: Any) -> None:
        since = len(self.sim.raw)
        self.sim.send(op="fault", name=name, on=on, **options)
        self.wait_sim("fault", since, name=name, on=on)

    def moves(self) -> int:
        """RAISE and LOWER requests that started the motor, by the board's own count."""
        count: int = self.sim.state()["counters"]["moves"]
        return count

    def sim_lines(self, since: int = 0) -> list[Event]:
        """The simulator's stdout lines from index `since` on, parsed."""
        lines = []
        for raw in self.sim.raw[since:]:
            with contextlib.suppress(json.JSONDecodeError):
                lines.append(json.loads(raw))
        return lines

    def sim_events(self, event: str, since: int = 0) -> list[Event]:
        return [e for e in self.sim_lines(since) if e.get("event") == event]

    def wait_sim(self, event: str, since: int = 0, timeout: float = 10.0, **fields: Any) -> Event:
        """The first simulator line from index `since` on that is `event` with `fields`."""

        def found() -> list[Event]:
            return [
                e
                for e in self.sim_events(event, since)
                if all(e.get(k) == v for k, v in fields.items())
            ]

        deadline = time.monotonic() + timeout
        while not found():
            if time.monotonic() > deadline:
                raise TimeoutError(f"no sim line {event} {fields}; last: {self.sim.raw[-8:]}")
            time.sleep(SIM_POLL_S)
        return found()[0]


def parking_rig(workdir: Path, **options: Any) -> contextlib.AbstractContextManager[ParkingRig]:
    """A ParkingRig, closed afterwards; fails if a process it started is still running."""
    return closed_after(ParkingRig(workdir, **options))




# --- invariants -----------------------------------------------------------------------


def assert_records_sound(records: list[dict[str, Any]]) -> None:
    """Seqs 1, 2, ... without a gap; record ids unique; every common field present."""
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1)), records
    assert len({r["record_id"] for r in records}) == len(records)
    for record in records:
        assert record["device_id"] == DEVICE
        assert {"record_id", "seq", "type", "ts", "clock_synced", "order_id"} <= record.keys()


def assert_sessions_sound(records: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Records pair up: parking_started then parking_ended of the same order, each once, the
    end carrying the start's time and a whole-second duration that agrees with the clock.
    The (order_id, duration_s) of every finished session."""
    assert_records_sound(records)
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


def assert_never_raised_over_a_car(sim_lines: list[Event], car_at_start: bool = False) -> None:
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


def assert_agent_serving(rig: ParkingRig) -> None:
    """The agent runs, and none of its tasks or command handlers died."""
    agent = rig.agent
    assert agent is not None
    assert agent.proc.poll() is None
    dead = ("task_failed", "handler_failed", "Traceback")
    assert not [line for line in agent.raw if any(word in line for word in dead)]
    assert not [line for line in agent.stderr if "Traceback" in line]

"""The ground lock: a motorised arm that only its board can confirm, and the occupancy sensor.

States: `unknown` (no position reported since the agent started, or the arm moved or was lost
without being asked), `raised`, `lowered`, `raising` and `lowering` (asked, until the board
reports the arm at the limit), `fault` (a move that failed or timed out, or a stalled motor or
bad limit switch; cleared when the board reports the arm at a limit with neither fault bit).

A move sends RaiseLock or LowerLock once and starts a timer; it ends `reached` when the board
reports the target, `failed` on a refusal, a stall, a timeout or the arm ending at the other
limit, and `refused` when the board (RAISE: OCCUPIED) or a car arriving stops a raise. The view
is only what the board has reported: the last position (`moving` while it says so), or fault.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from transitions import Machine

from edge.commands.reply import FailureCode
from edge.intents import CancelTimer, Intent, RaiseEvent, StartTimer
from edge.parking.events import (
    GroundLockFault,
    GroundLockFaultCleared,
    GroundLockFaults,
    fault_names,
    position_name,
)
from edge.parking.inputs import Occupied
from edge.parking.intents import LowerLock, RaiseLock
from edge.parking.telemetry import LockView
from firmware_protocol.slotboard import GroundLockFault as FaultBits
from firmware_protocol.slotboard import Position


class ArmState(enum.StrEnum):
    UNKNOWN = "unknown"
    RAISED = "raised"
    LOWERED = "lowered"
    RAISING = "raising"
    LOWERING = "lowering"
    FAULT = "fault"


UNKNOWN = ArmState.UNKNOWN
RAISED = ArmState.RAISED
LOWERED = ArmState.LOWERED
RAISING = ArmState.RAISING
LOWERING = ArmState.LOWERING
FAULT = ArmState.FAULT
SETTLED = [UNKNOWN, RAISED, LOWERED]
MOVING = [RAISING, LOWERING]
# The bits that mean the arm cannot be trusted to move (PROTOCOL.md section 12.1).
BLOCKING = FaultBits.MOTOR_STALL | FaultBits.LIMIT_SWITCH


class Outcome(enum.Enum):
    REACHED = "reached"
    FAILED = "failed"
    REFUSED = "refused"


@dataclass(frozen=True)
class Direction:
    target: ArmState
    moving: ArmState
    position: Position
    request: RaiseLock | LowerLock


UP = Direction(RAISED, RAISING, Position.RAISED, RaiseLock())
DOWN = Direction(LOWERED, LOWERING, Position.LOWERED, LowerLock())


def _row(
    trigger: str, source: ArmState | list[ArmState], dest: ArmState | None, **options: object
) -> dict[str, object]:
    return {"trigger": trigger, "source": source, "dest": dest, **options}


class GroundLock:
    state: ArmState

    def __init__(self, outbox: list[Intent], move_timeout_s: float) -> None:
        self.position: Position | None = None
        self.car_present: bool | None = None
        self.faults = FaultBits(0)
        self.acknowledged = False
        self.outcome: Outcome | None = None
        self.code = FailureCode.HARDWARE_FAULT  # of a FAILED outcome
        self.reason = ""
        self._fault_reason: str | None = None
        self.timer: str | None = None
        self.timer_seq = 0
        self._outbox = outbox
        self._move_timeout_s = move_timeout_s
        self._machine = Machine(
            model=self,
            states=[
                {"name": UNKNOWN},
                {"name": RAISED},
                {"name": LOWERED},
                {"name": RAISING, "on_enter": self._send, "on_exit": self._stop_timer},
                {"name": LOWERING, "on_enter": self._send, "on_exit": self._stop_timer},
                {"name": FAULT, "on_enter": self._announce_fault, "on_exit": self._cleared},
            ],
            transitions=self._transitions(),
            initial=UNKNOWN,
            auto_transitions=False,
        )

    # -- what the board reports -----------------------------------------------------------------

    @property
    def view(self) -> LockView:
        if self.state is FAULT:
            return "fault"
        return position_name(self.position)

    @property
    def occupied(self) -> bool | None:
        """Whether a car is over the lock; None when the sensor cannot tell."""
        if self.faults & FaultBits.OCCUPANCY_SENSOR:
            return None
        return self.car_present

    @property
    def moving(self) -> bool:
        return self.state in MOVING

    def shows(self, position: Position) -> None:
        self.position = position
        self._machine.dispatch(f"show_{position.name.lower()}")

    def fault_bits(self, faults: FaultBits) -> None:
        previous, self.faults = self.faults, faults
        if faults != previous:
            self._outbox.append(RaiseEvent(GroundLockFaults(faults=fault_names(faults))))
        stalled = faults & BLOCKING & ~previous
        if self.moving and stalled:
            stalls = ", ".join(fault_names(stalled))
            self._fail(FailureCode.HARDWARE_FAULT, f"the board reports {stalls}")
        else:
            self._machine.dispatch("recheck")

    # -- moves ----------------------------------------------------------------------------------

    def move(self, direction: Direction) -> None:
        self._machine.dispatch(f"go_{direction.target}")

    def give_up_raise(self) -> None:
        """A raise given up for a car: down again."""
        self._machine.dispatch("turn_down")

    def board_answered(self, direction: Direction, position: Position) -> None:
        """The board took the request; its answer reports the arm as any report does."""
        if self.state == direction.moving:
            self.acknowledged = True
        self.shows(position)

    def board_failed(self, direction: Direction, code: FailureCode | Occupied) -> None:
        if self.state is not direction.moving:
            return  # an answer to a move already given up or reversed
        if code == "occupied":
            self._set_outcome(Outcome.REFUSED, FailureCode.HARDWARE_FAULT, "a car is over the lock")
            self._machine.dispatch("refused")
        else:
            timed_out = code is FailureCode.HARDWARE_TIMEOUT
            self._fail(code, "no response from the board" if timed_out else "the board refused")

    def timer_fired(self, name: str) -> bool:
        if name != self.timer:
            return False
        self.timer = None
        seconds = f"{self._move_timeout_s:g}"
        self._fail(
            FailureCode.HARDWARE_TIMEOUT, f"the arm did not reach its limit within {seconds} s"
        )
        return True

    def resume_move(self, direction: Direction) -> None:
        """After a restart: the move in flight may have been sent; wait for the board's word
        (and the timer) without sending it again."""
        self._machine.set_state(direction.moving)
        self.acknowledged = True
        self.outcome = None
        self._start_timer()

    # -- the table ------------------------------------------------------------------------------

    def _transitions(self) -> list[dict[str, object]]:
        settle = [(FAULT, ["_blocked"]), (RAISED, ["_at_top"]), (LOWERED, ["_at_bottom"])]
        table = [
            _row(trigger, source, dest, conditions=conditions)
            for trigger, source in (("recheck", SETTLED), ("refused", RAISING))
            for dest, conditions in [*settle, (UNKNOWN, [])]
        ]
        table += [
            _row("recheck", FAULT, RAISED, conditions=["_healthy", "_at_top"]),
            _row("recheck", FAULT, LOWERED, conditions=["_healthy", "_at_bottom"]),
            _row("recheck", [FAULT, *MOVING], None),
            _row("turn_down", RAISING, LOWERING),
            _row("go_raised", [LOWERED, FAULT], RAISING),
            _row("go_lowered", [RAISED, FAULT], LOWERING),
            _row("fail", MOVING, FAULT),
        ]
        for position in ("moving", "unknown"):
            table += [
                _row(f"show_{position}", MOVING, None),
                _row(f"show_{position}", SETTLED, UNKNOWN),
                _row(f"show_{position}", FAULT, None),
            ]
        for direction, other in ((UP, DOWN), (DOWN, UP)):
            show = f"show_{direction.target}"
            table += [
                _row(show, direction.moving, direction.target, after=self._reached),
                _row(
                    show,
                    other.moving,
                    FAULT,
                    conditions=["_acknowledged"],
                    before=self._ended_at(direction.target),
                ),
                _row(show, other.moving, None),
                _row(show, SETTLED, FAULT, conditions=["_blocked"]),
                _row(show, SETTLED, direction.target),
                _row(show, FAULT, direction.target, conditions=["_healthy"]),
                _row(show, FAULT, None),
            ]
        return table

    def _blocked(self) -> bool:
        return bool(self.faults & BLOCKING)

    def _healthy(self) -> bool:
        return not self._blocked()

    def _at_top(self) -> bool:
        return self.position is Position.RAISED

    def _at_bottom(self) -> bool:
        return self.position is Position.LOWERED

    def _acknowledged(self) -> bool:
        return self.acknowledged

    # -- callbacks ------------------------------------------------------------------------------

    def _send(self) -> None:
        direction = UP if self.state is RAISING else DOWN
        self.acknowledged = False
        self.outcome = None
        self._outbox.append(direction.request)
        self._start_timer()

    def _start_timer(self) -> None:
        self.timer_seq += 1
        self.timer = f"move:{self.timer_seq}"
        self._outbox.append(StartTimer(self.timer, self._move_timeout_s))

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self._outbox.append(CancelTimer(self.timer))
            self.timer = None

    def _reached(self) -> None:
        self._set_outcome(Outcome.REACHED, FailureCode.HARDWARE_FAULT, "")

    def _ended_at(self, position: ArmState) -> Callable[[], None]:
        def ended() -> None:
            reason = f"the arm ended {position}"
            self._set_outcome(Outcome.FAILED, FailureCode.HARDWARE_FAULT, reason)

        return ended

    def _fail(self, code: FailureCode, reason: str) -> None:
        self._set_outcome(Outcome.FAILED, code, reason)
        self._machine.dispatch("fail")

    def _set_outcome(self, outcome: Outcome, code: FailureCode, reason: str) -> None:
        self.outcome, self.code, self.reason = outcome, code, reason
        self._fault_reason = reason if outcome is Outcome.FAILED else None

    def _announce_fault(self) -> None:
        reason = self._fault_reason or "the board reports a fault"
        self._fault_reason = None
        event = GroundLockFault(
            reason=reason,
            position=position_name(self.position),
            faults=fault_names(self.faults),
        )
        self._outbox.append(RaiseEvent(event))

    def _cleared(self) -> None:
        self._outbox.append(RaiseEvent(GroundLockFaultCleared()))

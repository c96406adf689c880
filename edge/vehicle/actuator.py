"""A two-position actuator whose position only the bus can confirm (central lock, start enable).

A command sends a frame and starts a timer; the bus status must show the commanded position
before the timer fires. On a timeout the frame is resent, at most `command_retries` times, and
then the actuator is in `fault` and says so with an event. What it reports is always the last
position the bus has shown ("unknown" when the bus has shown none), or "fault".
"""

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from transitions import Machine

from edge.vehicle.intents import CancelTimer, CanCommand, Event, Intent, SendCan, StartTimer

UNKNOWN = "unknown"
FAULT = "fault"


class Outcome(enum.Enum):
    """How the last request ended; None on the actuator while it is still under way."""

    REACHED = "reached"
    FAILED = "failed"
    DEFERRED = "deferred"


@dataclass(frozen=True)
class Position:
    name: str
    moving: str
    frame: CanCommand


def transition(
    trigger: str, source: str | list[str], dest: str | None, **options: Any
) -> dict[str, Any]:
    """One row of a `transitions` table; dest None is an internal transition."""
    return {"trigger": trigger, "source": source, "dest": dest, **options}


class Actuator:
    """The shared confirm / timeout / retry / fault machine; subclasses name the positions."""

    state: str

    def __init__(
        self,
        name: str,
        positions: tuple[Position, Position],
        outbox: list[Intent],
        command_timeout_s: float,
        command_retries: int,
    ) -> None:
        self.name = name
        self.positions = positions
        self.shown: Position | None = None
        self.target: Position | None = None
        self.faulted = False
        self.attempts = 0
        self.outcome: Outcome | None = None
        self.timer_seq = 0
        self.timer: str | None = None
        self._outbox = outbox
        self._timeout_s = command_timeout_s
        self._retries = command_retries
        self._machine = Machine(
            model=self,
            states=self._states(),
            transitions=self._transitions(),
            initial=UNKNOWN,
            auto_transitions=False,
        )

    @property
    def view(self) -> str:
        if self.faulted:
            return FAULT
        return UNKNOWN if self.shown is None else self.shown.name

    @property
    def moving(self) -> bool:
        return self.state in (p.moving for p in self.positions)

    def bus_shows(self, name: str | None) -> None:
        """The bus status now reads `name` (None: not known)."""
        position = None if name is None else self._position(name)
        if position == self.shown:
            return
        self.shown = position
        self._machine.dispatch("show_nothing" if position is None else f"show_{position.name}")

    def command(self, name: str) -> None:
        """Move to `name`; `outcome` says when it is done. If already on its way there, the
        caller shares that move; never called while moving the other way."""
        position = self._position(name)
        if self.state == position.moving:
            return
        self._request(position)
        self._machine.dispatch(self._trigger_to(position))

    def timer_fired(self, name: str) -> bool:
        """True when the timer was this actuator's current one."""
        if name != self.timer:
            return False
        self.timer = None
        self._machine.dispatch("time_out")
        return True

    def snapshot(self) -> dict[str, Any]:
        return {"timer_seq": self.timer_seq}

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.timer_seq = int(snapshot["timer_seq"])

    def _position(self, name: str) -> Position:
        for position in self.positions:
            if position.name == name:
                return position
        raise ValueError(f"{self.name} has no position {name!r}")

    def _trigger_to(self, position: Position) -> str:
        return f"go_{position.name}"

    def _request(self, target: Position) -> None:
        self.target = target
        self.attempts = 0
        self.outcome = None

    def _idle_states(self) -> list[str]:
        return [UNKNOWN, *(p.name for p in self.positions), FAULT]

    def _states(self) -> list[dict[str, Any]]:
        return [
            {"name": UNKNOWN},
            *({"name": p.name} for p in self.positions),
            *({"name": p.moving, "on_enter": self._send} for p in self.positions),
            {"name": FAULT},
        ]

    def _transitions(self) -> list[dict[str, Any]]:
        first, second = self.positions
        settled = [UNKNOWN, first.name, second.name]
        idle = self._idle_states()
        table = [
            transition("show_nothing", settled, UNKNOWN),
            transition("show_nothing", [first.moving, second.moving, FAULT], None),
        ]
        for position, other in ((first, second), (second, first)):
            show, go, moving = f"show_{position.name}", f"go_{position.name}", position.moving
            table += [
                transition(show, settled, position.name),
                transition(show, moving, position.name, after=self._reached),
                transition(show, other.moving, None),
                # In fault only the position the failed command asked for clears it: the bus
                # repeating the position it was stuck at is no news.
                transition(
                    show,
                    FAULT,
                    position.name,
                    conditions=self._targets(position),
                    after=self._reached,
                ),
                transition(
                    go, idle, position.name, conditions=self._shows(position), after=self._reached
                ),
                transition(go, idle, moving),
                transition(
                    "time_out", moving, None, conditions=self._may_retry, after=self._resend
                ),
                transition("time_out", moving, FAULT, after=self._give_up),
            ]
        return table

    def _shows(self, position: Position) -> Callable[[], bool]:
        return lambda: self.shown == position

    def _targets(self, position: Position) -> Callable[[], bool]:
        return lambda: self.target == position

    def _may_retry(self) -> bool:
        return self.attempts < self._retries

    def _send(self) -> None:
        assert self.target is not None
        self.timer_seq += 1
        self.timer = f"{self.name}:{self.timer_seq}"
        self._outbox.extend([SendCan(self.target.frame), StartTimer(self.timer, self._timeout_s)])

    def _resend(self) -> None:
        self.attempts += 1
        self._send()

    def _reached(self) -> None:
        if self.timer is not None:
            self._outbox.append(CancelTimer(self.timer))
            self.timer = None
        self.outcome = Outcome.REACHED
        if self.faulted:
            self.faulted = False
            self._outbox.append(Event(f"{self.name}_fault_cleared", {"state": self.view}))

    def _give_up(self) -> None:
        assert self.target is not None
        self.faulted = True
        self.outcome = Outcome.FAILED
        self._outbox.append(
            Event(
                f"{self.name}_fault",
                {
                    "target": self.target.name,
                    "frames_sent": self.attempts + 1,
                    "bus_shows": UNKNOWN if self.shown is None else self.shown.name,
                },
            )
        )

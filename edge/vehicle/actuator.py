"""A two-position actuator whose position only the bus can confirm (central lock, start enable).

A command sends a frame and starts a timer; the bus status must show the commanded position
before the timer fires. On a timeout the frame is resent, at most `command_retries` times, and
then the actuator is in `fault` and says so with an event. What it reports is always the last
position the bus has shown ("unknown" when the bus has shown none), or "fault".
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Generic, TypedDict, TypeVar

from transitions import Machine

from edge.intents import CancelTimer, Intent, RaiseEvent, StartTimer
from edge.vehicle.events import ActuatorFault, ActuatorFaultCleared
from edge.vehicle.intents import CanCommand, SendCan
from edge.vehicle.snapshot import ActuatorSnapshot

S = TypeVar("S", bound=enum.StrEnum)


class Outcome(enum.Enum):
    """How the last request ended; None on the actuator while it is still under way."""

    REACHED = "reached"
    FAILED = "failed"
    DEFERRED = "deferred"


@dataclass(frozen=True)
class Position(Generic[S]):
    """A position the actuator rests in, the state it is in while moving there, and the
    frame that commands it."""

    state: S
    moving: S
    frame: CanCommand


class StateRow(TypedDict, total=False):
    name: enum.StrEnum
    on_enter: Callable[[], None]


class TransitionRow(TypedDict, total=False):
    trigger: str
    source: enum.StrEnum | Sequence[enum.StrEnum]
    dest: enum.StrEnum | None
    conditions: Callable[[], bool] | list[Callable[[], bool]]
    after: Callable[[], None]


def transition(
    trigger: str,
    source: enum.StrEnum | Sequence[enum.StrEnum],
    dest: enum.StrEnum | None,
    conditions: Callable[[], bool] | list[Callable[[], bool]] | None = None,
    after: Callable[[], None] | None = None,
) -> TransitionRow:
    """One row of a `transitions` table; dest None is an internal transition."""
    row: TransitionRow = {"trigger": trigger, "source": source, "dest": dest}
    if conditions is not None:
        row["conditions"] = conditions
    if after is not None:
        row["after"] = after
    return row


class Actuator(Generic[S]):
    """The shared confirm / timeout / retry / fault machine; subclasses name the positions,
    their states (an enum with `unknown` and `fault`) and their fault events."""

    state: S
    fault_event: ClassVar[type[ActuatorFault]]
    cleared_event: ClassVar[type[ActuatorFaultCleared]]

    def __init__(
        self,
        name: str,
        states: type[S],
        positions: tuple[Position[S], Position[S]],
        outbox: list[Intent],
        command_timeout_s: float,
        command_retries: int,
        *,
        has_status: bool = True,
    ) -> None:
        self.name = name
        self.positions = positions
        self.has_status = has_status
        self.commanded: Position[S] | None = None
        self._echo: Position[S] | None = None
        self.shown: Position[S] | None = None
        self.target: Position[S] | None = None
        self.faulted = False
        self.attempts = 0
        self.outcome: Outcome | None = None
        self.timer_seq = 0
        self.timer: str | None = None
        self._state_type = states
        self._unknown = states("unknown")
        self._fault = states("fault")
        self._outbox = outbox
        self._timeout_s = command_timeout_s
        self._retries = command_retries
        self._machine = Machine(
            model=self,
            states=self._states(),
            transitions=self._transitions(),
            initial=self._unknown,
            auto_transitions=False,
        )

    @property
    def view(self) -> S:
        if self.faulted:
            return self._fault
        return self._unknown if self.shown is None else self.shown.state

    @property
    def moving(self) -> bool:
        return self.state in (p.moving for p in self.positions)

    def bus_shows(self, shown: str | None) -> None:
        """The bus status now reads `shown` (a position's state; None: not known)."""
        position = None if shown is None else self._position(shown)
        if position == self.shown:
            return
        self.shown = position
        self._machine.dispatch("show_nothing" if position is None else f"show_{position.state}")

    def command(self, target: str) -> None:
        """Move to the position `target`; `outcome` says when it is done. If already on its
        way there, the caller shares that move; never called while moving the other way."""
        position = self._position(target)
        if self.state == position.moving:
            return
        self._request(position)
        self._dispatch(self._trigger_to(position))

    def _dispatch(self, trigger: str) -> None:
        """Fire `trigger`. Without a status on the bus, a frame sent counts as shown at once:
        the position is what the box commanded (`commanded`), never a confirmed one."""
        self._machine.dispatch(trigger)
        while self._echo is not None:
            position, self._echo = self._echo, None
            self.commanded = self.shown = position
            self._machine.dispatch(f"show_{position.state}")

    def timer_fired(self, name: str) -> bool:
        """True when the timer was this actuator's current one."""
        if name != self.timer:
            return False
        self.timer = None
        self._machine.dispatch("time_out")
        return True

    def snapshot(self) -> ActuatorSnapshot:
        return ActuatorSnapshot(timer_seq=self.timer_seq)

    def restore(self, snapshot: ActuatorSnapshot) -> None:
        self.timer_seq = snapshot.timer_seq

    def _position(self, state: str) -> Position[S]:
        for position in self.positions:
            if position.state == state:
                return position
        raise ValueError(f"{self.name} has no position {state!r}")

    def _trigger_to(self, position: Position[S]) -> str:
        return f"go_{position.state}"

    def _request(self, target: Position[S]) -> None:
        self.target = target
        self.attempts = 0
        self.outcome = None

    def _idle_states(self) -> list[S]:
        return [self._unknown, *(p.state for p in self.positions), self._fault]

    def _states(self) -> list[StateRow]:
        return [
            StateRow(name=self._unknown),
            *(StateRow(name=p.state) for p in self.positions),
            *(StateRow(name=p.moving, on_enter=self._send) for p in self.positions),
            StateRow(name=self._fault),
        ]

    def _transitions(self) -> list[TransitionRow]:
        first, second = self.positions
        unknown, fault = self._unknown, self._fault
        settled = [unknown, first.state, second.state]
        idle = self._idle_states()
        table = [
            transition("show_nothing", settled, unknown),
            transition("show_nothing", [first.moving, second.moving, fault], None),
        ]
        for position, other in ((first, second), (second, first)):
            show, go, moving = f"show_{position.state}", f"go_{position.state}", position.moving
            table += [
                transition(show, settled, position.state),
                transition(show, moving, position.state, after=self._reached),
                transition(show, other.moving, None),
                # In fault only the position the failed command asked for clears it: the bus
                # repeating the position it was stuck at is no news.
                transition(
                    show,
                    fault,
                    position.state,
                    conditions=self._targets(position),
                    after=self._reached,
                ),
                transition(
                    go, idle, position.state, conditions=self._shows(position), after=self._reached
                ),
                transition(go, idle, moving),
                transition(
                    "time_out", moving, None, conditions=self._may_retry, after=self._resend
                ),
                transition("time_out", moving, fault, after=self._give_up),
            ]
        return table

    def _shows(self, position: Position[S]) -> Callable[[], bool]:
        # As commanded only, the box cannot know the car is there already: it sends again.
        return lambda: self.has_status and self.shown == position

    def _targets(self, position: Position[S]) -> Callable[[], bool]:
        return lambda: self.target == position

    def _may_retry(self) -> bool:
        return self.attempts < self._retries

    def _send(self) -> None:
        assert self.target is not None
        if not self.has_status:
            self._outbox.append(SendCan(self.target.frame))
            self._echo = self.target
            return
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
            self._outbox.append(RaiseEvent(self.cleared_event(state=self.view)))

    def _give_up(self) -> None:
        assert self.target is not None
        self.faulted = True
        self.outcome = Outcome.FAILED
        shown = self._unknown if self.shown is None else self.shown.state
        event = self.fault_event(
            target=self.target.state, frames_sent=self.attempts + 1, bus_shows=shown
        )
        self._outbox.append(RaiseEvent(event))

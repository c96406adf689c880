"""A `Simulator` over a line of boards: what `edge-sim cabinet` and `edge-sim parking` share.

It opens the line, powers the boards on (each queues BOARD_RESET), checks every control line
against the op and fault tables, carries out the line's own ops and faults (`reset`, `noise`,
`silent`, `duplicate`, `late`) and hands the rest to the kind. Everything runs on the one loop of
`serve()`.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from firmware_protocol.slotboard import ResetReason
from sim.control import ControlError, Simulator, emit, require
from sim.op_table import Spec

from .board import Board
from .line import BoardLine
from .ops import DEFAULT_BER, DEFAULT_DROP, DEFAULT_LATE_MS, MAX_LATE_MS, RESET_REASONS
from .timers import Timers


@dataclass(frozen=True)
class LineOptions:
    port: str | None  # a real serial port; None: a pty
    baudrate: int
    seed: int  # of the line's noise


class BoardSimulator(Simulator):
    """`boards` on one line; a kind adds its ops, faults and state."""

    def __init__(
        self,
        boards: Sequence[Board],
        timers: Timers,
        line: LineOptions,
        *,
        ops: dict[str, Spec],
        faults: dict[str, Spec],
    ) -> None:
        self.timers = timers
        self.boards = {board.address: board for board in boards}
        self.line = BoardLine(
            boards, timers, port=line.port, baudrate=line.baudrate, seed=line.seed
        )
        self._ops = ops
        self._faults = faults

    # -- what a kind adds

    @abstractmethod
    def kind_control(self, op: str, command: dict[str, Any]) -> None:
        """Carry out one of the kind's own ops (already checked against the table)."""

    @abstractmethod
    def kind_fault(self, name: str, on: bool, command: dict[str, Any]) -> dict[str, Any]:
        """Switch one of the kind's own faults; the parameters it took, for the event line."""

    @abstractmethod
    def kind_state(self) -> dict[str, Any]:
        """The kind's part of `state`; its `faults` and `counters` join the line's."""

    async def kind_start(self) -> None:
        """Start what runs besides the line (e.g. the chargers)."""

    async def kind_stop(self) -> None:
        """Stop it."""

    # -- Simulator

    async def start(self) -> dict[str, Any]:
        try:
            connect = await self.line.start()
        except OSError as exc:
            raise SystemExit(f"edge-sim: cannot open the serial line: {exc}") from exc
        for board in self.boards.values():
            board.power_on()
        await self.kind_start()
        return connect

    async def control(self, op: str, command: dict[str, Any]) -> None:
        spec = self._ops.get(op)
        if spec is None:
            raise ControlError(f"unknown op {op!r}; the ops are {', '.join(self._ops)}")
        if op != "fault":
            _check_keys(command, {"op", *spec.keys}, op)
        if op == "fault":
            self._fault(command)
        elif op == "reset":
            self._reset(command)
        else:
            self.kind_control(op, command)

    def state(self) -> dict[str, Any]:
        kind = self.kind_state()
        boards = list(self.boards.values())
        line = self.line.state()
        counters = {
            **line["counters"],
            "requests": sum(b.counters.requests for b in boards),
            "naks_sent": sum(b.counters.naks_sent for b in boards),
            "retransmissions": sum(b.counters.retransmissions for b in boards),
            "events_dropped": sum(b.counters.events_dropped for b in boards),
            **kind.pop("counters", {}),
        }
        faults = {
            "noise": self.line.noise,
            "silent": [b.address for b in boards if b.silent],
            "duplicate": [b.address for b in boards if b.duplicate],
            "late": {str(b.address): round(b.late_s * 1000, 3) for b in boards if b.late_s},
            **kind.pop("faults", {}),
        }
        return {
            "connect": self.line.connect,
            **kind,
            "boards": [board.state() for board in boards],
            "faults": faults,
            "counters": counters,
            "serial": line["serial"],
        }

    async def stop(self) -> None:
        await self.kind_stop()
        self.timers.cancel_all()
        await self.line.close()

    # -- the line's ops and faults

    def _reset(self, command: dict[str, Any]) -> None:
        reason_name = command.get("reason", "power_on")
        if reason_name not in RESET_REASONS:
            raise ControlError(f"'reason' is one of {', '.join(RESET_REASONS)}")
        reason = ResetReason[reason_name.upper()]
        for board in self._boards_of(command):
            board.power_on(reason)
            emit("reset", address=board.address, reason=reason_name)

    def _fault(self, command: dict[str, Any]) -> None:
        name = require(command, "name", str)
        on = require(command, "on", bool)
        spec = self._faults.get(name)
        if spec is None:
            raise ControlError(f"unknown fault {name!r}; the faults are {', '.join(self._faults)}")
        _check_keys(command, {"op", "name", "on", *spec.keys}, f"fault {name}")
        params: dict[str, Any]
        if name == "noise":
            params = self._switch_noise(command, on)
        elif name in ("silent", "duplicate", "late"):
            params = self._switch_board_fault(name, on, command)
        else:
            params = self.kind_fault(name, on, command)
        emit("fault", name=name, on=on, **params)

    def _switch_noise(self, command: dict[str, Any], on: bool) -> dict[str, Any]:
        ber = number_in(command, "ber", 0.0, 1.0, DEFAULT_BER)
        drop = number_in(command, "drop", 0.0, 1.0, DEFAULT_DROP)
        if not on:
            ber = drop = 0.0
        self.line.set_noise(ber=ber, drop=drop)
        return {"ber": ber, "drop": drop}

    def _switch_board_fault(self, name: str, on: bool, command: dict[str, Any]) -> dict[str, Any]:
        delay_ms = number_in(command, "delay_ms", 0.0, MAX_LATE_MS, DEFAULT_LATE_MS)
        boards = self._boards_of(command)
        for board in boards:
            if name == "silent":
                board.silent = on
            elif name == "duplicate":
                board.duplicate = on
            else:
                board.late_s = delay_ms / 1000 if on else 0.0
        params: dict[str, Any] = {"boards": [board.address for board in boards]}
        if name == "late" and on:
            params["delay_ms"] = delay_ms
        return params

    def _boards_of(self, command: dict[str, Any]) -> list[Board]:
        """The board a command's `board` names, or every board."""
        if "board" not in command:
            return list(self.boards.values())
        address = require(command, "board", int)
        board = self.boards.get(address)
        if board is None:
            raise ControlError(f"no board at address {address}; the boards are {list(self.boards)}")
        return [board]


def number_in(command: dict[str, Any], key: str, low: float, high: float, default: float) -> float:
    """A number `key` in low..high, or `default` when the command has none."""
    if key not in command:
        return default
    value = require(command, key, (int, float))
    if not (math.isfinite(value) and low <= value <= high):
        raise ControlError(f"{key!r} must be a number in {low:g}..{high:g}")
    return float(value)


def _check_keys(command: dict[str, Any], allowed: set[str], what: str) -> None:
    unknown = set(command) - allowed
    if unknown:
        raise ControlError(f"{what} takes no {', '.join(sorted(unknown))}")

"""The simulators' control channel: JSON lines on stdin, JSON lines on stdout (contract section 8).

Every simulator is a `Simulator`: it says how to reach it, carries out control ops and reports
its whole state. `serve()` does the rest the same way for all of them: the `sim.ready` line,
reading stdin, answering a malformed line with an `{"event": "error"}` line and carrying on,
`{"op": "state"}`, and a clean exit 0 on EOF or SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from abc import ABC, abstractmethod
from typing import Any


class ControlError(ValueError):
    """A control line the simulator cannot carry out; reported, never fatal."""


def emit(event: str, **fields: Any) -> None:
    """Write one event line to stdout and flush it, so a reader sees it at once."""
    sys.stdout.write(json.dumps({"event": event, **fields}, separators=(",", ":")) + "\n")
    sys.stdout.flush()


class Simulator(ABC):
    """A piece of simulated hardware behind a real connection (a pty, a CAN bus)."""

    @abstractmethod
    async def start(self) -> dict[str, Any]:
        """Open the connection and start the hardware; return the `connect` dict."""

    @abstractmethod
    async def control(self, op: str, command: dict[str, Any]) -> None:
        """Carry out one control op other than `state`; raise ControlError when it is wrong."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """The whole state, for `{"op": "state"}`."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop the hardware and close the connection."""


def require(command: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """The value of `key` in a control command, checked for type, or ControlError."""
    if key not in command:
        raise ControlError(f"missing {key!r}")
    value = command[key]
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise ControlError(f"{key!r} must be a number")
    if not isinstance(value, kind):
        raise ControlError(f"{key!r} has the wrong type")
    return value


async def _stdin_lines(loop: asyncio.AbstractEventLoop) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=1 << 16)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def _handle_line(sim: Simulator, line: bytes) -> None:
    try:
        command = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        emit("error", error="bad_json", detail=str(exc))
        return
    if not isinstance(command, dict) or not isinstance(command.get("op"), str):
        emit("error", error="bad_command", detail="a control line is an object with a string 'op'")
        return
    op = command["op"]
    try:
        if op == "state":
            emit("state", **sim.state())
        else:
            await sim.control(op, command)
    except ControlError as exc:
        emit("error", error="bad_command", op=op, detail=str(exc))


async def serve(sim: Simulator) -> int:
    """Run a simulator until EOF on stdin or SIGTERM/SIGINT; return the exit code."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    connect = await sim.start()
    emit("sim.ready", connect=connect)
    reader = await _stdin_lines(loop)

    async def read_commands() -> None:
        while True:
            try:
                line = await reader.readline()
            except ValueError:  # a line longer than the limit
                emit("error", error="bad_json", detail="line too long")
                continue
            if not line:
                return
            if line.strip():
                await _handle_line(sim, line)

    commands = asyncio.create_task(read_commands())
    stop_wait = asyncio.create_task(stopping.wait())
    try:
        await asyncio.wait({commands, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (commands, stop_wait):
            task.cancel()
        await sim.stop()
        emit("sim.stopped")
    return 0

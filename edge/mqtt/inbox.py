"""Incoming commands: one at a time, in arrival order, acknowledged after their handler.

The PUBACK of a command goes only after `await handler(payload)` has returned (the handler
commits its reply durably first), so a box that dies inside the handler gets the command
again from its persistent session. A handler that raises is logged and its command still
acknowledged: the handler owns the replies, and a poison message must not come back forever.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

import structlog

# How many handled commands are remembered to recognise the broker's redelivery of one
# whose PUBACK was lost with the connection. The broker holds at most its in-flight
# window (mosquitto: 20) of unacknowledged messages per client.
REMEMBERED_COMMANDS: Final = 64

CommandHandler = Callable[[bytes], Awaitable[None]]


@dataclass(frozen=True)
class IncomingCommand:
    mid: int
    qos: int
    dup: bool
    payload: bytes


class CommandInbox:
    """Queues commands as they arrive and hands them to the handler one by one.

    `ack(command)` sends the PUBACK if there is a connection. A command whose PUBACK was
    lost with its connection comes back from the broker with DUP set and the same packet
    id (MQTT 3.1.1 section 4.4); it is then acknowledged without running the handler again.
    """

    def __init__(
        self,
        handler: CommandHandler,
        ack: Callable[[IncomingCommand], None],
        log: structlog.stdlib.BoundLogger,
    ) -> None:
        self._handler = handler
        self._ack = ack
        self._log = log
        self._queue: asyncio.Queue[IncomingCommand] = asyncio.Queue()
        self._handled: OrderedDict[int, bytes] = OrderedDict()
        self.busy = False
        self.on_done: Callable[[], None] = lambda: None
        self._stopping = False

    def deliver(self, command: IncomingCommand) -> None:
        self._queue.put_nowait(command)

    def stop_after_current(self) -> None:
        """`serve()` returns once the running command (if any) is done; queued commands stay
        unacknowledged, and the broker delivers them again on the next connection."""
        self._stopping = True

    async def serve(self) -> None:
        self._stopping = False
        while True:
            command = await self._queue.get()
            if self._stopping:
                return
            self.busy = True
            try:
                await self._handle(command)
            finally:
                self.busy = False
                self.on_done()

    async def _handle(self, command: IncomingCommand) -> None:
        if command.dup and self._handled.get(command.mid) == command.payload:
            self._log.info("mqtt.command_redelivered", mid=command.mid)
        else:
            self._log.debug("mqtt.command_received", mid=command.mid, bytes=len(command.payload))
            try:
                await self._handler(command.payload)
            except Exception:
                self._log.exception("mqtt.command_handler_failed", mid=command.mid)
            self._remember(command)
        self._ack(command)

    def _remember(self, command: IncomingCommand) -> None:
        self._handled[command.mid] = command.payload
        self._handled.move_to_end(command.mid)
        while len(self._handled) > REMEMBERED_COMMANDS:
            self._handled.popitem(last=False)

"""Fetching the boards' queued events (PROTOCOL.md section 8): GET_EVENTS, deliver, ACK_EVENTS.

A board keeps its events until the box acknowledges them, and a lost response or a lost
acknowledgement only makes it send the same events again. The poller delivers each event once,
in order, recognising repeats by the board's event seq (section 8.3), and acknowledges an
event only after `on_event` returned for it and for everything before it in its batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, cast

import structlog

from firmware_protocol.slotboard import (
    AckEventsRequest,
    BoardReset,
    GetEventsRequest,
    GetEventsResponse,
    QueuedEvent,
)

from .errors import BoardNak, LinkDown, LinkTimeout
from .link import SlotBoardLink

SEQ_MODULO = 0x10000
NEWER_MAX = 0x7FFF
"""An event is new when `(seq - last) mod 65536` is in 1..32767 (section 8.3)."""

FETCHES_PER_POLL_MAX = 8
"""While a board reports more pending events it is polled again at once, at most this often
in one round, so one chatty board cannot starve the others."""

UNREACHABLE_POLL_S = 2.0
"""A board that timed out is polled this seldom until it answers, so its 3 x 100 ms of
silence does not slow every round of the line."""

LOST_OVERFLOW = "overflow"
LOST_BOARD_RESET = "board_reset"

EventHandler = Callable[[int, QueuedEvent], None]
LostEventsHandler = Callable[[int, str], None]


def is_new_event(seq: int, last: int | None) -> bool:
    """Whether an event with `seq` comes after the last one processed from its board."""
    return last is None or 1 <= (seq - last) % SEQ_MODULO <= NEWER_MAX


@dataclass
class PollerCounters:
    events: int = 0
    duplicates: int = 0
    handler_failures: int = 0
    overflows: int = 0
    board_resets: int = 0


class EventPoller:
    """Polls each board's event queue every `poll_s` and hands each event on once.

    `on_event(address, queued)` runs on the loop, synchronously, once per event, in the board's
    order; BoardReset events come through it too. The box makes its durable record of the event
    inside the callback: the event is acknowledged to the board only after the callback has
    returned for it and for every event before it in the same response, so an event is never
    acknowledged before it is recorded. A callback that raises stops the batch and nothing of it
    is acknowledged; the board sends it again on the next poll, and the events already delivered
    are skipped then.

    `on_lost_events(address, reason)` says the box's picture of a board may be stale and it must
    re-read the board's whole status (GET_SLOTS, GET_GROUND_LOCK): reason `overflow` (the board's
    queue overflowed and dropped events) or `board_reset` (the board restarted; its queue and its
    actuator states started afresh). It runs after the events of that response were delivered
    and before they are acknowledged.
    """

    def __init__(
        self,
        link: SlotBoardLink,
        addresses: Iterable[int],
        poll_s: float,
        on_event: EventHandler,
        on_lost_events: LostEventsHandler,
        *,
        logger: Any | None = None,
    ) -> None:
        self._link = link
        self._addresses = tuple(addresses)
        self._poll_s = poll_s
        self._on_event = on_event
        self._on_lost_events = on_lost_events
        self._log = logger or structlog.get_logger(component="serial")
        self._last: dict[int, int] = {}
        self._retry_at: dict[int, float] = {}
        # Reasons to re-read a board not yet handed on (a handler that raised hears them again).
        self._unreported: dict[int, dict[str, None]] = {}
        self.counters = PollerCounters()

    async def run(self) -> None:
        """Poll every board, then wait out the rest of `poll_s`; until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            for address in self._addresses:
                if self._retry_at.get(address, 0.0) > loop.time():
                    continue
                try:
                    await self.poll(address)
                except LinkDown:
                    break  # the link logs the port; nothing to poll until it is back
                except LinkTimeout:
                    self._retry_at[address] = loop.time() + UNREACHABLE_POLL_S
                except BoardNak as exc:
                    self._log.warning("serial.poll_refused", address=address, code=exc.code.name)
                else:
                    self._retry_at.pop(address, None)
            await asyncio.sleep(max(0.0, started + self._poll_s - loop.time()))

    async def poll(self, address: int) -> None:
        """Fetch, deliver and acknowledge the board's events now, until its queue is empty
        (or `FETCHES_PER_POLL_MAX` fetches). Raises what the link raises.

        A box may call it beside `run()`, e.g. right after an eject to hear the latch sooner:
        delivery is synchronous and notes each event's seq at once, so a concurrent poll that
        fetches the same events skips them.
        """
        for _ in range(FETCHES_PER_POLL_MAX):
            # parse_response decodes a GET_EVENTS answer as GetEventsResponse.
            response = cast(
                GetEventsResponse, await self._link.request(address, GetEventsRequest())
            )
            ack = self._deliver(address, response)
            if ack is None:
                return
            await self._link.request(address, AckEventsRequest(ack))
            if not response.pending:
                return

    def _deliver(self, address: int, response: GetEventsResponse) -> int | None:
        """Hand on the new events of `response`; the seq to acknowledge, or None for no ack."""
        unreported = self._unreported.setdefault(address, {})
        ack: int | None = None
        for queued in response.events:
            reset = isinstance(queued.event, BoardReset)
            last = self._last.get(address)
            if (reset and queued.seq == last) or (not reset and not is_new_event(queued.seq, last)):
                self.counters.duplicates += 1
                ack = queued.seq
                continue
            if not self._hand_on(self._on_event, address, queued):
                return None
            self._last[address] = queued.seq
            ack = queued.seq
            self.counters.events += 1
            if reset:
                self.counters.board_resets += 1
                unreported[LOST_BOARD_RESET] = None
        if response.overflow:
            self.counters.overflows += 1
            unreported[LOST_OVERFLOW] = None
            if ack is None:
                # Nothing queued; an ACK_EVENTS still clears the flag and drops nothing.
                ack = self._last.get(address, 0)
        for reason in list(unreported):
            if not self._hand_on(self._on_lost_events, address, reason):
                return None
            del unreported[reason]
        return ack

    def _hand_on(self, handler: Callable[[int, Any], None], address: int, what: object) -> bool:
        try:
            handler(address, what)
        except Exception:
            self.counters.handler_failures += 1
            self._log.exception("serial.event_handler_failed", address=address, what=str(what))
            return False
        return True

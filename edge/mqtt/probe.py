"""The probe (contract 1.1, section 2): is the broker still delivering to the box?

A connection can be one way: the box's publishes are acknowledged, but nothing reaches the
box any more (a broker-side ACL change, a stuck bridge, a half-dead NAT mapping on the way
back). `interval_s` after the connection and after each probe the box publishes `{"ts", "n"}`
to its own `probe` topic, to which it is subscribed; one that has not come back `timeout_s`
later, on the same connection, is reported through `on_lost(n, waited_s)`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime

import structlog
from pydantic import ValidationError

from edge.mqtt.topics import json_payload
from edge.timefmt import rfc3339
from edge.wire.probe import Probe


class LinkProbe:
    def __init__(
        self,
        interval_s: float,
        timeout_s: float,
        *,
        send: Callable[[bytes], bool],
        on_lost: Callable[[int, float], None],
        log: structlog.stdlib.BoundLogger,
    ) -> None:
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._send = send
        self._on_lost = on_lost
        self._log = log
        self._up = asyncio.Event()  # connected and subscribed
        self._wake = asyncio.Event()  # the probe out came back, or the connection closed
        self._connection = 0  # counts connections, so a wait knows whether it saw one only
        self._out: int | None = None  # the number of the probe out
        self._sent_at = 0.0
        self.sent = 0
        self.last_rtt_ms: float | None = None

    def up(self) -> None:
        """The box is connected and subscribed (called once per connection)."""
        if not self._up.is_set():
            self._connection += 1
            self._up.set()

    def down(self) -> None:
        """The connection closed."""
        self._up.clear()
        self._wake.set()

    def returned(self, payload: bytes) -> None:
        """A message on the probe topic arrived."""
        try:
            probe = Probe.model_validate_json(payload)
        except ValidationError:
            self._log.warning("mqtt.probe_garbled", bytes=len(payload))
            return
        if probe.n != self._out:
            self._log.debug("mqtt.probe_late", n=probe.n)
            return
        self.last_rtt_ms = round((time.monotonic() - self._sent_at) * 1000, 1)
        self._out = None
        self._wake.set()
        self._log.debug("mqtt.probe_returned", n=probe.n, rtt_ms=self.last_rtt_ms)

    async def run(self) -> None:
        while True:
            await self._up.wait()
            connection = self._connection
            self._wake.clear()
            await _wait(self._wake, self._interval_s)
            if not self._on(connection):
                continue
            self.sent += 1
            payload = json_payload(Probe(ts=rfc3339(datetime.now(UTC)), n=self.sent))
            self._out, self._sent_at = self.sent, time.monotonic()
            self._wake.clear()
            if not self._send(payload):
                self._out = None
                continue
            await _wait(self._wake, self._timeout_s)
            if self._out is not None and self._on(connection):
                waited = round(time.monotonic() - self._sent_at, 3)
                self._log.warning("mqtt.link_one_way", probe=self._out, waited_s=waited)
                self._up.clear()  # until the next connection's subscription
                self._on_lost(self._out, waited)
            self._out = None

    def _on(self, connection: int) -> bool:
        """Still connected, on the same connection."""
        return self._up.is_set() and connection == self._connection


async def _wait(event: asyncio.Event, within_s: float) -> None:
    """Until `event` is set or `within_s` passed. (asyncio.wait_for in Python 3.11 can swallow
    a cancellation that arrives as the event is set; asyncio.timeout does not.)"""
    with suppress(TimeoutError):
        async with asyncio.timeout(within_s):
            await event.wait()

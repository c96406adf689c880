"""Talking to systemd: sd_notify(3) datagrams on $NOTIFY_SOCKET and the watchdog interval.

Written here rather than taken from a library: the protocol is one datagram of
`KEY=value` lines on a Unix socket, and the agent must never block or raise on it.
Outside systemd (no NOTIFY_SOCKET) every call is a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable, Mapping
from typing import Final

import structlog

from edge.logs import get_logger

# systemd(1): a path starting with "@" names a socket in the abstract namespace.
ABSTRACT_PREFIX: Final = "@"


def watchdog_interval_s(env: Mapping[str, str] | None = None) -> float | None:
    """WatchdogSec as systemd passes it (WATCHDOG_USEC, and WATCHDOG_PID when it names this
    process), in seconds; None when the watchdog is off for this process."""
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None
    return int(usec) / 1_000_000


class SystemdNotifier:
    """Sends state changes to the service manager; a no-op without NOTIFY_SOCKET."""

    def __init__(
        self, socket_path: str | None, logger: structlog.stdlib.BoundLogger | None = None
    ) -> None:
        self._address: str | bytes | None = None
        if socket_path:
            self._address = (
                b"\0" + socket_path[1:].encode()
                if socket_path.startswith(ABSTRACT_PREFIX)
                else socket_path
            )
        self._socket_path = socket_path
        self._log = logger or get_logger("agent")
        self._failing = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SystemdNotifier:
        env = os.environ if env is None else env
        return cls(env.get("NOTIFY_SOCKET"))

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def ready(self, status: str) -> None:
        self.send(READY="1", STATUS=status)

    def status(self, status: str) -> None:
        self.send(STATUS=status)

    def watchdog(self) -> None:
        self.send(WATCHDOG="1")

    def extend_start_timeout(self, seconds: float) -> None:
        """Asks for `seconds` more to finish starting (systemd >= 236)."""
        self.send(EXTEND_TIMEOUT_USEC=str(int(seconds * 1_000_000)))

    def stopping(self, status: str) -> None:
        self.send(STOPPING="1", STATUS=status)

    def send(self, **fields: str) -> bool:
        """One datagram of KEY=value lines; False (logged once per outage) when it failed."""
        if self._address is None:
            return False
        message = "\n".join(f"{key}={value}" for key, value in fields.items()).encode()
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)
                sock.sendto(message, self._address)
        except OSError as exc:
            if not self._failing:
                self._log.warning("agent.notify_failed", socket=self._socket_path, error=str(exc))
            self._failing = True
            return False
        self._failing = False
        return True


# Without a watchdog, how often a starting agent asks for more start time, and how much.
START_PING_S: Final = 5.0
START_EXTENSION_S: Final = 30.0
# With one: pings at a third of WatchdogSec, so one late wake-up on a slow SD card is not fatal.
PINGS_PER_WATCHDOG: Final = 3


class ServiceHeartbeat:
    """Keeps systemd told from the agent's loop, so a frozen loop is noticed.

    While starting (waiting for the CAN interface or the serial port, which may take as long
    as the installer needs to plug it in) it asks for more start time at every beat, so
    `TimeoutStartSec` fires only when the loop stops beating. Once ready it sends WATCHDOG=1
    at every beat while `healthy()` holds; a blocked loop sends nothing and systemd restarts
    the agent after WatchdogSec.
    """

    def __init__(
        self,
        notifier: SystemdNotifier,
        watchdog_s: float | None,
        healthy: Callable[[], bool],
        logger: structlog.stdlib.BoundLogger | None = None,
    ) -> None:
        self._notifier = notifier
        self._watchdog_s = watchdog_s
        self._healthy = healthy
        self._log = logger or get_logger("agent")
        self.beat_s = START_PING_S if watchdog_s is None else watchdog_s / PINGS_PER_WATCHDOG

    async def run(self, ready: asyncio.Event) -> None:
        if not self._notifier.enabled:
            return
        loop = asyncio.get_running_loop()
        while not ready.is_set():
            self._notifier.extend_start_timeout(max(START_EXTENSION_S, 3 * self.beat_s))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ready.wait(), self.beat_s)
        if self._watchdog_s is None:
            return
        self._log.info("agent.watchdog_enabled", interval_s=self._watchdog_s)
        withheld = False
        while True:
            expected = loop.time() + self.beat_s
            await asyncio.sleep(self.beat_s)
            lag = loop.time() - expected
            if lag > self.beat_s:
                self._log.warning("agent.loop_stalled", stalled_s=round(lag, 3))
            if self._healthy():
                self._notifier.watchdog()
                withheld = False
            elif not withheld:
                self._log.error("agent.watchdog_withheld", watchdog_s=self._watchdog_s)
                withheld = True

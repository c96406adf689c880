"""A stand-in for systemd's NOTIFY_SOCKET: a Unix datagram socket that keeps what it gets."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from testbed.waiting import wait_until


@dataclass(frozen=True)
class Notification:
    at: float  # time.monotonic() on arrival
    fields: dict[str, str]


class FakeNotifySocket:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(path))
        self._sock.settimeout(0.1)
        self._lock = threading.Lock()
        self._received: list[Notification] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                data = self._sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines())
            with self._lock:
                self._received.append(Notification(time.monotonic(), fields))

    @property
    def received(self) -> list[Notification]:
        with self._lock:
            return list(self._received)

    def with_key(self, key: str, value: str | None = None) -> list[Notification]:
        return [
            n
            for n in self.received
            if key in n.fields and (value is None or n.fields[key] == value)
        ]

    def wait_for(self, key: str, value: str | None = None, timeout: float = 30.0) -> Notification:
        found = wait_until(
            lambda: self.with_key(key, value),
            timeout,
            lambda: f"{key}={value} on the notify socket; got {self.received}",
        )
        return found[0]

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=2)
        self._sock.close()

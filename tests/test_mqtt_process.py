"""An agent process with an MqttLink, SIGKILLed: the will, and the unacknowledged command."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from testbed.broker import CloudClient, Mosquitto, retained

pytestmark = pytest.mark.usefixtures("no_thread_leaks")

AGENT = Path(__file__).with_name("mqtt_agent.py")
DEVICE = "car-0042"
STATUS = f"fleet/v1/{DEVICE}/status"
COMMANDS = f"fleet/v1/{DEVICE}/commands"


class AgentProcess:
    """`tests/mqtt_agent.py` as a child process, its JSON lines read on a thread."""

    def __init__(self, url: str, store: Path, *extra: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(AGENT), url, DEVICE, str(store), *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="agent-stdout")
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                self.events.put(json.loads(line))
        self.events.put({"event": "_eof"})

    def wait_for(self, event: str, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"agent never said {event}")
            try:
                got = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if got["event"] == "_eof":
                raise EOFError(f"agent exited {self.proc.wait()} before {event}")
            if got["event"] == event:
                return got

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.close()

    def close(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        code = self.proc.wait()
        self._reader.join(5)
        return code


@contextmanager
def agent(url: str, store: Path, *extra: str) -> Iterator[AgentProcess]:
    process = AgentProcess(url, store, *extra)
    try:
        yield process
    finally:
        process.close()


def test_the_will_marks_a_killed_box_offline_and_a_clean_stop_does_too(
    mosquitto: Mosquitto, cloud: CloudClient, tmp_path: Path
) -> None:
    store = tmp_path / "edge.db"
    with agent(mosquitto.url, store) as box:
        box.wait_for("connected")
        assert cloud.wait_for(lambda m: m.topic == STATUS).json()["online"] is True
        box.kill()
    offline = cloud.wait_for(lambda m: m.topic == STATUS and m.json() == {"online": False})
    assert offline.qos == 1
    assert retained(mosquitto, STATUS) == {"online": False}
    assert "car-0042 closed its connection" in mosquitto.log()  # no DISCONNECT: the will

    with agent(mosquitto.url, store) as box:
        box.wait_for("connected")
        assert retained(mosquitto, STATUS)["online"] is True
        assert box.close() == 0
    assert retained(mosquitto, STATUS) == {"online": False}


def test_a_command_whose_handler_never_returned_comes_back_after_a_kill(
    mosquitto: Mosquitto, cloud: CloudClient, tmp_path: Path
) -> None:
    store = tmp_path / "edge.db"
    payload = '{"id": "cmd-1", "type": "unlock"}'
    with agent(mosquitto.url, store, "--hang") as box:
        box.wait_for("connected")
        cloud.publish(COMMANDS, payload.encode())
        assert box.wait_for("command")["payload"] == payload
        box.kill()  # inside the handler: no PUBACK was sent

    with agent(mosquitto.url, store) as box:
        assert box.wait_for("command")["payload"] == payload
        assert box.close() == 0

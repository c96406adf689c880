"""An agent process with an MqttLink, SIGKILLed: the will, and the unacknowledged command."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from testbed.broker import CloudClient, Mosquitto, retained
from testbed.processes import JsonLinesProcess

AGENT = Path(__file__).with_name("mqtt_agent.py")
DEVICE = "car-0042"
STATUS = f"fleet/v1/{DEVICE}/status"
COMMANDS = f"fleet/v1/{DEVICE}/commands"


@contextmanager
def agent(url: str, store: Path, *extra: str) -> Iterator[JsonLinesProcess]:
    """`tests/mqtt_agent.py` as a child process, its JSON lines read on a thread."""
    process = JsonLinesProcess([sys.executable, str(AGENT), url, DEVICE, str(store), *extra])
    try:
        yield process
    finally:
        process.stop()


def test_the_will_marks_a_killed_box_offline_and_a_clean_stop_does_too(
    mosquitto: Mosquitto, cloud: CloudClient, tmp_path: Path
) -> None:
    store = tmp_path / "edge.db"
    with agent(mosquitto.url, store) as box:
        box.wait_event("connected")
        assert cloud.wait_for(lambda m: m.topic == STATUS).json()["online"] is True
        box.kill()
    offline = cloud.wait_for(lambda m: m.topic == STATUS and m.json() == {"online": False})
    assert offline.qos == 1
    assert retained(mosquitto, STATUS) == {"online": False}
    assert "car-0042 closed its connection" in mosquitto.log()  # no DISCONNECT: the will

    with agent(mosquitto.url, store) as box:
        box.wait_event("connected")
        assert retained(mosquitto, STATUS)["online"] is True
        assert box.stop() == 0
    assert retained(mosquitto, STATUS) == {"online": False}


def test_a_command_whose_handler_never_returned_comes_back_after_a_kill(
    mosquitto: Mosquitto, cloud: CloudClient, tmp_path: Path
) -> None:
    store = tmp_path / "edge.db"
    payload = '{"id": "cmd-1", "type": "unlock"}'
    with agent(mosquitto.url, store, "--hang") as box:
        box.wait_event("connected")
        cloud.publish(COMMANDS, payload.encode())
        assert box.wait_event("command")["payload"] == payload
        box.kill()  # inside the handler: no PUBACK was sent

    with agent(mosquitto.url, store) as box:
        assert box.wait_event("command")["payload"] == payload
        assert box.stop() == 0

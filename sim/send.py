"""Publishes a signed command envelope to a box's broker and waits for the box's reply:
`python -m sim.backend send ...` for installers and bench work (see sim/backend.py)."""

from __future__ import annotations

import json
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.mqtt.config import MqttConfig
from edge.mqtt.link import apply_credentials
from edge.mqtt.topics import Topics


def send_and_wait(
    config: MqttConfig, envelope: dict[str, Any], timeout_s: float
) -> dict[str, Any] | None:
    """The reply to `envelope`, or None when none came within `timeout_s`."""
    topics = Topics(str(envelope["device_id"]))
    subscribed, replied = threading.Event(), threading.Event()
    reply: dict[str, Any] = {}

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            candidate = json.loads(message.payload)
        except ValueError:
            return
        if isinstance(candidate, dict) and candidate.get("command_id") == envelope["id"]:
            reply.update(candidate)
            replied.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"send-{envelope['id']}")
    apply_credentials(client, config)
    client.on_message = on_message
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect(config.host, config.port, keepalive=30)
    client.subscribe(topics.outbox("replies"), qos=1)
    client.loop_start()
    try:
        # Subscribed first: a fast box could otherwise reply before we listen.
        if not subscribed.wait(timeout_s):
            return None
        client.publish(topics.commands, json.dumps(envelope), qos=1).wait_for_publish(timeout_s)
        return reply if replied.wait(timeout_s) else None
    finally:
        client.disconnect()
        client.loop_stop()

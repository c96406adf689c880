"""Publishes a signed command envelope to a box's broker and waits for the box's reply:
`python -m sim.backend send ...` for installers and bench work (see sim/backend.py)."""

from __future__ import annotations

import json
import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.mqtt.config import MqttConfig
from edge.mqtt.link import apply_credentials, make_client
from edge.mqtt.topics import Topics


class BrokerRefused(ConnectionError):
    """The broker answered and refused the connection (CONNACK with an error code)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the broker refused the connection: {reason}")
        self.reason = reason


def send_and_wait(
    config: MqttConfig,
    envelope: dict[str, Any],
    timeout_s: float,
    message_expiry_s: int | None = None,
) -> dict[str, Any] | None:
    """The reply to `envelope`, or None when none came within `timeout_s`. BrokerRefused when
    the broker refuses the login; OSError when it cannot be reached (TLS errors included).
    Under MQTT 5, `message_expiry_s` is the publish's Message Expiry Interval: a broker drops
    the command rather than deliver it later (the box checks `expires_at` itself anyway)."""
    topics = Topics(str(envelope["device_id"]))
    answered, subscribed, replied = threading.Event(), threading.Event(), threading.Event()
    refused: list[str] = []
    reply: dict[str, Any] = {}

    def on_connect(
        client: mqtt.Client, userdata: Any, flags: Any, code: ReasonCode, props: Any
    ) -> None:
        if code.is_failure:
            refused.append(str(code))
        else:
            client.subscribe(topics.outbox("replies"), qos=1)
        answered.set()

    def on_message(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            candidate = json.loads(message.payload)
        except ValueError:
            return
        if isinstance(candidate, dict) and candidate.get("command_id") == envelope["id"]:
            reply.update(candidate)
            replied.set()

    client = make_client(config, client_id=config.client_id or f"send-{envelope['id']}")
    apply_credentials(client, config)
    client.on_connect = on_connect
    client.on_message = on_message
    client.on_subscribe = lambda *args: subscribed.set()

    def on_disconnect(*args: Any) -> None:
        if not answered.is_set():  # TLS 1.3 tells a refused certificate only this way
            refused.append("closed before CONNACK (a client certificate the broker requires?)")
        answered.set()

    client.on_disconnect = on_disconnect
    properties = None
    if config.protocol == "5":
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 0
    client.connect(config.host, config.port, keepalive=30, properties=properties)
    client.loop_start()
    try:
        if not answered.wait(timeout_s):
            return None
        if refused:
            raise BrokerRefused(refused[0])
        # Subscribed first: a fast box could otherwise reply before we listen.
        if not subscribed.wait(timeout_s):
            return None
        expiry = None
        if config.protocol == "5" and message_expiry_s is not None:
            expiry = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
            expiry.MessageExpiryInterval = message_expiry_s
        published = client.publish(topics.commands, json.dumps(envelope), qos=1, properties=expiry)
        published.wait_for_publish(timeout_s)
        return reply if replied.wait(timeout_s) else None
    finally:
        client.disconnect()
        client.loop_stop()
